#include "server/slot_engine.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "inference/tokenizer.h"
#include "session/reply_filter.h"

namespace natter::server {

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

// The n most probable tokens of a row of logits and the chosen one's probability, by softmax
// over the whole row.
TokenProbs token_probs(std::span<const float> logits, int n, int32_t chosen) {
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l - max));
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const size_t k = std::min(ids.size(), static_cast<size_t>(n));
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    const auto prob = [&](int32_t id) { return static_cast<float>(std::exp(static_cast<double>(logits[id] - max)) / sum); };
    TokenProbs out{chosen, prob(chosen), {}};
    for (size_t i = 0; i < k; ++i) out.top.push_back({ids[i], prob(ids[i])});
    return out;
}

}  // namespace

// --- Job ------------------------------------------------------------------------------------

Job::Update Job::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !pieces_.empty() || result_.has_value(); });
    Update u;
    u.pieces.swap(pieces_);
    if (result_) u.result = result_;
    return u;
}

void Job::push(Piece piece) {
    {
        std::lock_guard lock(mutex_);
        pieces_.push_back(std::move(piece));
    }
    ready_.notify_all();
}

void Job::finish(GenerationResult result) {
    {
        std::lock_guard lock(mutex_);
        result_ = std::move(result);
    }
    ready_.notify_all();
}

// --- the slots ------------------------------------------------------------------------------

struct SlotEngine::Slot {
    int id = 0;
    std::vector<int32_t> cached;  // tokens whose keys and values the slot's sequence holds
    std::shared_ptr<Job> job;     // the request it runs, if any
    GenerationParams last_params;
    size_t prompt_done = 0;       // prompt tokens in the cache
    int32_t pending = -1;         // the sampled token that the next decode step evaluates
    std::unique_ptr<Sampler> sampler;
    std::vector<int32_t> history;  // prompt and generated tokens, for the penalties
    Utf8Stream utf8;
    std::unique_ptr<ReplyFilter> filter;
    GenerationResult result;
    Clock::time_point prompt_start, generation_start;
    // What slots() shows, copied under the engine's mutex after each step.
    int shown_cached = 0;
    int shown_decoded = 0;

    bool in_prompt() const { return job && pending < 0 && prompt_done < job->params.prompt.size(); }
    bool generating() const { return job && pending >= 0; }
};

SlotEngine::SlotEngine(std::shared_ptr<const Model> model, const EngineOptions& options)
    : model_(std::move(model)), options_(options) {
    if (options_.n_slots < 1) throw Error("the number of slots (-np) must be at least 1");
    if (options_.n_ctx <= 0) options_.n_ctx = model_->hparams().n_ctx_train;  // -c 0: the model's
    slot_n_ctx_ = options_.n_ctx / options_.n_slots;
    if (slot_n_ctx_ < 16) {
        throw Error("a context of " + std::to_string(options_.n_ctx) + " tokens leaves " + std::to_string(slot_n_ctx_) +
                    " for each of the " + std::to_string(options_.n_slots) + " slots; each needs at least 16 (raise -c)");
    }
    forward_ = std::make_unique<Forward>(*model_, ForwardOptions{slot_n_ctx_, options_.n_batch, options_.n_threads, options_.flash_attn});
    forward_->set_sequences(options_.n_slots);
    for (int i = 0; i < options_.n_slots; ++i) {
        slots_.push_back(std::make_unique<Slot>());
        slots_.back()->id = i;
    }
    thread_ = std::thread([this] { run(); });
}

SlotEngine::~SlotEngine() {
    cancel_all();
    {
        std::lock_guard lock(mutex_);
        quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

int SlotEngine::n_threads() const { return forward_->n_threads(); }

std::shared_ptr<Job> SlotEngine::submit(GenerationParams params) {
    auto job = std::make_shared<Job>(std::move(params));
    {
        std::lock_guard lock(mutex_);
        if (static_cast<int>(waiting_.size()) >= options_.queue_limit) {
            throw QueueFull("all " + std::to_string(options_.n_slots) + " slots are busy and " +
                            std::to_string(options_.queue_limit) + " requests already wait; try again later");
        }
        waiting_.push_back(job);
        ++stats_.requests;
        stats_.deferred = static_cast<int>(waiting_.size());
    }
    wake_.notify_all();
    return job;
}

void SlotEngine::cancel_all() {
    std::lock_guard lock(mutex_);
    for (auto& job : waiting_) job->cancel();
    for (auto& slot : slots_) {
        if (slot->job) slot->job->cancel();
    }
    wake_.notify_all();
}

std::vector<SlotInfo> SlotEngine::slots() const {
    std::lock_guard lock(mutex_);
    std::vector<SlotInfo> out;
    for (const auto& s : slots_) {
        out.push_back({s->id, s->job != nullptr, slot_n_ctx_, s->shown_cached, s->shown_decoded, s->last_params});
    }
    return out;
}

EngineStats SlotEngine::stats() const {
    std::lock_guard lock(mutex_);
    EngineStats s = stats_;
    s.processing = 0;
    s.kv_tokens = 0;
    for (const auto& slot : slots_) {
        if (slot->job) ++s.processing;
        s.kv_tokens += slot->shown_cached;
    }
    s.deferred = static_cast<int>(waiting_.size());
    return s;
}

// --- the scheduler --------------------------------------------------------------------------

void SlotEngine::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            const auto busy = [&] {
                return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->job != nullptr; });
            };
            wake_.wait(lock, [&] { return quit_ || !waiting_.empty() || busy(); });
            if (quit_) break;
            assign_waiting_jobs();
        }
        const auto now = Clock::now();
        for (auto& slot : slots_) {
            if (!slot->job) continue;
            if (slot->job->cancelled()) {
                end(*slot, StopType::Cancelled);
            } else if (slot->job->params.deadline && now > *slot->job->params.deadline) {
                end(*slot, StopType::Timeout, "the request ran past the server's --timeout");
            }
        }
        // A waiting prompt is evaluated alone in big batches while nothing generates, and joins
        // the decode steps in smaller ones while something does.
        const bool generating = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->generating(); });
        if (generating) {
            decode_step();
        } else {
            prompt_step();
        }
        std::lock_guard lock(mutex_);
        for (auto& slot : slots_) {
            slot->shown_cached = static_cast<int>(slot->cached.size());
            slot->shown_decoded = static_cast<int>(slot->result.tokens.size());
            stats_.n_tokens_max = std::max(stats_.n_tokens_max, slot->shown_cached);
        }
    }
    std::lock_guard lock(mutex_);
    GenerationResult cancelled;
    cancelled.stop = StopType::Cancelled;
    for (auto& job : waiting_) job->finish(cancelled);
    for (auto& slot : slots_) {
        if (slot->job) slot->job->finish(cancelled);
    }
}

// Under mutex_: requests that were cancelled or ran out of time while waiting end; the others
// go, oldest first, to the idle slot whose cache shares the longest prefix with their prompt.
void SlotEngine::assign_waiting_jobs() {
    const auto now = Clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        const GenerationParams& p = (*it)->params;
        if ((*it)->cancelled() || (p.deadline && now > *p.deadline)) {
            GenerationResult r;
            r.stop = (*it)->cancelled() ? StopType::Cancelled : StopType::Timeout;
            if (r.stop == StopType::Timeout) r.error = "the request waited for a slot past the server's --timeout";
            (*it)->finish(std::move(r));
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    while (!waiting_.empty()) {
        Slot* best = nullptr;
        size_t best_prefix = 0;
        for (auto& slot : slots_) {
            if (slot->job) continue;
            const size_t prefix = common_prefix(slot->cached, waiting_.front()->params.prompt);
            if (!best || prefix > best_prefix) {
                best = slot.get();
                best_prefix = prefix;
            }
        }
        if (!best) break;
        start(*best, waiting_.front());
        waiting_.pop_front();
    }
}

void SlotEngine::start(Slot& slot, std::shared_ptr<Job> job) {
    const GenerationParams& p = job->params;
    // At least the last prompt token is evaluated again, for the logits of the first reply token.
    const size_t keep = p.cache_prompt ? std::min(common_prefix(slot.cached, p.prompt), p.prompt.size() - 1) : 0;
    slot.cached.resize(keep);
    slot.prompt_done = keep;
    slot.pending = -1;
    slot.sampler = std::make_unique<Sampler>(p.sampling);
    slot.history = p.prompt;
    slot.utf8 = Utf8Stream();
    slot.filter = std::make_unique<ReplyFilter>(p.stop, std::vector<std::string>{});
    slot.result = GenerationResult{};
    slot.result.slot = slot.id;
    slot.result.n_prompt = static_cast<int>(p.prompt.size());
    slot.result.n_cached = static_cast<int>(keep);
    slot.last_params = p;
    stats_.prompt_tokens_cached += keep;  // start() runs under mutex_
    slot.prompt_start = Clock::now();
    slot.job = std::move(job);
}

SlotEngine::Slot* SlotEngine::prompt_slot() {
    for (auto& s : slots_) {
        if (s->in_prompt()) return s.get();
    }
    return nullptr;
}

// `n` more prompt tokens of the slot are in its cache; `logits` are the last one's.
void SlotEngine::prompt_evaluated(Slot& slot, size_t n, double seconds, std::span<const float> logits) {
    const auto& prompt = slot.job->params.prompt;
    slot.cached.insert(slot.cached.end(), prompt.begin() + static_cast<std::ptrdiff_t>(slot.prompt_done),
                       prompt.begin() + static_cast<std::ptrdiff_t>(slot.prompt_done + n));
    slot.prompt_done += n;
    {
        std::lock_guard lock(mutex_);
        stats_.prompt_tokens += n;
        stats_.prompt_seconds += seconds;
    }
    if (slot.prompt_done < prompt.size()) return;
    slot.generation_start = Clock::now();
    slot.result.prompt_ms = ms_between(slot.prompt_start, slot.generation_start);
    if (slot.job->params.n_predict == 0) {
        end(slot, StopType::Limit);
    } else {
        accept_token(slot, logits);
    }
}

// With no slot generating: one batch of -b tokens of the first slot (in id order) whose
// prompt is not all in yet, through eval() (only the last row's logits are computed).
void SlotEngine::prompt_step() {
    Slot* slot = prompt_slot();
    if (!slot) return;
    const auto& prompt = slot->job->params.prompt;
    const size_t n = std::min(prompt.size() - slot->prompt_done, static_cast<size_t>(options_.n_batch));
    std::span<const float> logits;
    const auto t0 = Clock::now();
    try {
        forward_->use_sequence(slot->id);
        logits = forward_->eval(std::span<const int32_t>(prompt.data() + slot->prompt_done, n),
                                static_cast<int>(slot->prompt_done));
    } catch (const Error& e) {
        end(*slot, StopType::Error, e.what());
        return;
    }
    prompt_evaluated(*slot, n, ms_between(t0, Clock::now()) / 1000.0, logits);
}

// One token for every generating slot, all in one forward pass, and in the same pass the next
// rows of a waiting prompt (continuous batching: the new request joins the running batch).
void SlotEngine::decode_step() {
    std::vector<int32_t> tokens;
    std::vector<int> seqs, positions;
    std::vector<Slot*> rows;
    for (auto& s : slots_) {
        if (!s->generating()) continue;
        rows.push_back(s.get());
        tokens.push_back(s->pending);
        seqs.push_back(s->id);
        positions.push_back(static_cast<int>(s->cached.size()));
    }
    if (rows.empty()) return;
    Slot* joining = prompt_slot();
    size_t n_prompt = 0;
    if (joining) {
        const auto& prompt = joining->job->params.prompt;
        n_prompt = std::min(prompt.size() - joining->prompt_done, static_cast<size_t>(options_.n_batch));
        for (size_t i = 0; i < n_prompt; ++i) {
            tokens.push_back(prompt[joining->prompt_done + i]);
            seqs.push_back(joining->id);
            positions.push_back(static_cast<int>(joining->prompt_done + i));
        }
    }
    const auto t0 = Clock::now();
    std::span<const float> logits;
    try {
        logits = forward_->decode(tokens, seqs, positions);
    } catch (const Error& e) {
        for (Slot* slot : rows) end(*slot, StopType::Error, e.what());
        if (joining) end(*joining, StopType::Error, e.what());
        return;
    }
    const double seconds = ms_between(t0, Clock::now()) / 1000.0;
    // The step's time, shared between its generated tokens and its prompt rows.
    const double per_row = seconds / static_cast<double>(tokens.size());
    {
        std::lock_guard lock(mutex_);
        ++stats_.decode_steps;
        stats_.busy_slots_in_steps += rows.size();
        stats_.predicted_tokens += rows.size();
        stats_.predicted_seconds += seconds * static_cast<double>(rows.size());
        stats_.predicted_wall_seconds += per_row * static_cast<double>(rows.size());
    }
    const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
    for (size_t r = 0; r < rows.size(); ++r) {
        rows[r]->cached.push_back(rows[r]->pending);
        accept_token(*rows[r], logits.subspan(r * n_vocab, n_vocab));
    }
    if (joining) {
        prompt_evaluated(*joining, n_prompt, per_row * static_cast<double>(n_prompt), logits.subspan(logits.size() - n_vocab));
    }
}

bool SlotEngine::accept_token(Slot& slot, std::span<const float> logits) {
    const GenerationParams& p = slot.job->params;
    const Tokenizer& tok = model_->tokenizer();
    slot.pending = -1;
    int32_t id = 0;
    try {
        id = slot.sampler->sample(logits, slot.history);
    } catch (const Error& e) {
        end(slot, StopType::Error, e.what());
        return false;
    }
    slot.history.push_back(id);
    slot.result.tokens.push_back(id);
    Piece piece{id, {}, std::nullopt};
    if (p.n_probs > 0) {
        piece.probs = token_probs(logits, p.n_probs, id);
        slot.result.probs.push_back(*piece.probs);
    }
    if (!p.ignore_eos && tok.is_eog(id)) {
        slot.job->push(std::move(piece));
        end(slot, StopType::Eos);
        return false;
    }
    piece.text = slot.filter->push(slot.utf8.push(tok.token_to_piece(id, false)));
    slot.job->push(std::move(piece));
    if (slot.filter->stopped()) {
        end(slot, StopType::Word);
        return false;
    }
    const int n_gen = static_cast<int>(slot.result.tokens.size());
    if (p.n_predict >= 0 && n_gen >= p.n_predict) {
        end(slot, StopType::Limit);
        return false;
    }
    // As `natter run`: the context ends the reply when the next token has no position left.
    if (static_cast<int>(slot.cached.size()) + 1 >= slot_n_ctx_) {
        slot.result.truncated = true;
        end(slot, StopType::Limit);
        return false;
    }
    slot.pending = id;
    return true;
}

void SlotEngine::end(Slot& slot, StopType stop, const std::string& error) {
    if (stop != StopType::Word) {
        const std::string rest = slot.filter->push(slot.utf8.flush()) + slot.filter->flush();
        if (!rest.empty()) slot.job->push(Piece{-1, rest, std::nullopt});
    }
    // A stop string may still end the text in what was flushed.
    slot.result.stop = slot.filter->stopped() ? StopType::Word : stop;
    slot.result.stopping_word = slot.filter->stopping_word();
    slot.result.content = slot.filter->shown();
    slot.result.error = error;
    slot.result.n_predicted = static_cast<int>(slot.result.tokens.size());
    if (slot.result.n_predicted > 0 || slot.prompt_done == slot.job->params.prompt.size()) {
        slot.result.predicted_ms = ms_between(slot.generation_start, Clock::now());
    }
    // A token that was sampled but not evaluated is not in the cache.
    slot.pending = -1;
    std::shared_ptr<Job> job;
    {
        std::lock_guard lock(mutex_);
        job = std::move(slot.job);
    }
    job->finish(slot.result);
}

}  // namespace natter::server
