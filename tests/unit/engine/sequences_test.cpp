// Forward's sequences (the server's slots): several KV caches in one engine, and decode(),
// one forward pass for a token of each. A row of decode() must give the logits that the same
// token evaluated alone on its sequence gives, bit for bit, wherever the weights' matmul path
// does not depend on the batch size (Q4_1, the default model's type: ggml's vec_dot at any
// batch size), and using a second sequence must leave the first one's results unchanged.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/paths.h"
#include "inference/forward.h"
#include "inference/model.h"
#include "inference/tokenizer.h"

namespace {

std::vector<float> copy(std::span<const float> s) { return {s.begin(), s.end()}; }

class Sequences : public ::testing::Test {
protected:
    void SetUp() override {
        const auto path = natter::paths::default_model();
        if (!std::filesystem::exists(path)) GTEST_SKIP() << "the default model is not in " << path << " (scripts/setup fetches it)";
        model_ = natter::Model::load(path.string());
    }
    std::vector<int32_t> tokens(const char* text) const { return model_->tokenizer().tokenize(text, true, true); }
    void decode_rows_equal_each_sequence_alone(bool flash_attn);
    std::unique_ptr<natter::Model> model_;
};

// Greedy continuations of `prompt` on one sequence of `fwd`, token by token through eval().
std::vector<std::vector<float>> alone(natter::Forward& fwd, const std::vector<int32_t>& prompt, int steps) {
    std::vector<std::vector<float>> out;
    std::vector<float> logits = copy(fwd.eval(prompt, 0));
    int pos = static_cast<int>(prompt.size());
    for (int i = 0; i < steps; ++i) {
        out.push_back(logits);
        const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        logits = copy(fwd.eval(std::span<const int32_t>(&next, 1), pos++));
    }
    return out;
}

TEST_F(Sequences, DecodeRowsEqualEachSequenceAlone) { decode_rows_equal_each_sequence_alone(false); }

// With flash attention a lone row over fewer than 512 positions takes ggml's one-position-at-a-
// time path in decode() as in eval().
TEST_F(Sequences, DecodeRowsEqualEachSequenceAloneWithFlashAttention) { decode_rows_equal_each_sequence_alone(true); }

void Sequences::decode_rows_equal_each_sequence_alone(bool flash_attn) {
    const auto a = tokens("The capital of France is");
    const auto b = tokens("Once upon a time, in a land far away, there lived");
    const auto c = tokens("def fibonacci(n):");
    const int steps = 6;
    std::vector<std::vector<std::vector<float>>> expected;
    {
        natter::Forward one(*model_, natter::ForwardOptions{512, 512, 2, flash_attn});
        for (const auto* p : {&a, &b, &c}) expected.push_back(alone(one, *p, steps));
    }
    natter::Forward fwd(*model_, natter::ForwardOptions{512, 512, 2, flash_attn});
    fwd.set_sequences(3);
    ASSERT_EQ(fwd.n_sequences(), 3);
    const std::vector<const std::vector<int32_t>*> prompts = {&a, &b, &c};
    std::vector<int32_t> next(3);
    std::vector<int> positions(3);
    for (int s = 0; s < 3; ++s) {
        fwd.use_sequence(s);
        const auto logits = copy(fwd.eval(*prompts[s], 0));
        ASSERT_EQ(logits, expected[s][0]) << "prompt of sequence " << s;
        next[s] = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        positions[s] = static_cast<int>(prompts[s]->size());
    }
    const std::vector<int> seqs = {2, 0, 1};  // rows in another order than the sequences
    const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
    for (int step = 1; step < steps; ++step) {
        std::vector<int32_t> row_tokens;
        std::vector<int> row_positions;
        for (int s : seqs) {
            row_tokens.push_back(next[s]);
            row_positions.push_back(positions[s]);
        }
        const auto logits = copy(fwd.decode(row_tokens, seqs, row_positions));
        ASSERT_EQ(logits.size(), 3 * n_vocab);
        for (size_t r = 0; r < 3; ++r) {
            const int s = seqs[r];
            const std::vector<float> row(logits.begin() + static_cast<std::ptrdiff_t>(r * n_vocab),
                                         logits.begin() + static_cast<std::ptrdiff_t>((r + 1) * n_vocab));
            ASSERT_EQ(row, expected[s][step]) << "sequence " << s << ", step " << step;
            next[s] = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
            ++positions[s];
        }
    }
    for (int s = 0; s < 3; ++s) {
        fwd.use_sequence(s);
        EXPECT_EQ(fwd.evaluated(), positions[s]);
    }
}

// A prompt's batches in the same pass as another sequence's generated token: the generating
// row's logits are those it has alone, and the prompt's last row's are eval()'s of the prompt
// in the same batches (here of 8 tokens: eval() batches the same way, shown first).
TEST_F(Sequences, APromptsBatchesJoinTheRunningStep) {
    const auto a = tokens("The capital of France is");
    const auto b = tokens("Once upon a time, in a land far away, there lived");
    const int steps = 12;
    std::vector<std::vector<float>> a_alone;
    std::vector<float> b_alone;
    {
        natter::Forward one(*model_, natter::ForwardOptions{512, 512, 2});
        a_alone = alone(one, a, steps);
        natter::Forward batches_of_8(*model_, natter::ForwardOptions{512, 8, 2});
        b_alone = copy(batches_of_8.eval(b, 0));
    }
    natter::Forward fwd(*model_, natter::ForwardOptions{512, 512, 2});
    fwd.set_sequences(2);
    fwd.use_sequence(0);
    std::vector<float> logits = copy(fwd.eval(a, 0));
    ASSERT_EQ(logits, a_alone[0]);
    int a_pos = static_cast<int>(a.size());
    size_t b_done = 0;
    const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
    for (int step = 1; step < steps && b_done < b.size(); ++step) {
        const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        std::vector<int32_t> row_tokens = {next};
        std::vector<int> seqs = {0}, positions = {a_pos};
        const size_t chunk = std::min<size_t>(8, b.size() - b_done);
        for (size_t i = 0; i < chunk; ++i) {
            row_tokens.push_back(b[b_done + i]);
            seqs.push_back(1);
            positions.push_back(static_cast<int>(b_done + i));
        }
        const auto out = copy(fwd.decode(row_tokens, seqs, positions));
        logits.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n_vocab));
        ASSERT_EQ(logits, a_alone[step]) << "step " << step;
        b_done += chunk;
        ++a_pos;
        if (b_done == b.size()) {
            const std::vector<float> last(out.end() - static_cast<std::ptrdiff_t>(n_vocab), out.end());
            EXPECT_EQ(last, b_alone);
        }
    }
    ASSERT_EQ(b_done, b.size()) << "the prompt did not finish in the steps";
    fwd.use_sequence(1);
    EXPECT_EQ(fwd.evaluated(), static_cast<int>(b.size()));
}

TEST_F(Sequences, DecodeRefusesWhatItCannotDo) {
    natter::Forward fwd(*model_, natter::ForwardOptions{64, 64, 1});
    fwd.set_sequences(2);
    const auto message = [&](std::vector<int32_t> t, std::vector<int> s, std::vector<int> p) {
        try {
            fwd.decode(t, s, p);
        } catch (const natter::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message({}, {}, {}), "nothing to decode: the token list is empty");
    EXPECT_EQ(message({1}, {2}, {0}), "sequence 2 does not exist");
    EXPECT_EQ(message({1, 1}, {0, 0}, {0, 0}), "decode takes the rows of one sequence at consecutive positions");
    EXPECT_EQ(message({1, 1, 1}, {0, 1, 0}, {0, 0, 1}), "decode takes the rows of one sequence together");
    EXPECT_EQ(message({1, 1}, {0, 0}, {63, 64}), "position 63 of sequence 0 is outside its 0 evaluated positions or the context");
    EXPECT_EQ(message({1, 1}, {1, 1}, {0, 64}), "decode takes the rows of one sequence at consecutive positions");
    EXPECT_EQ(message({1}, {0}, {5}), "position 5 of sequence 0 is outside its 0 evaluated positions or the context");
    EXPECT_EQ(message({1}, {0}, {0}), "no error");
    EXPECT_EQ(message({1, 1}, {1, 1}, {0, 1}), "no error");  // a batch of a prompt
    EXPECT_EQ(message({1, 2}, {1, 1}, {2, 3}), "no error");
    EXPECT_EQ(message({1}, {1}, {63}), "position 63 of sequence 1 is outside its 4 evaluated positions or the context");
}

}  // namespace
