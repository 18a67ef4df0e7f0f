#include "openai/protocol.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace natter::openai {

namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void add_sampling(json& body, const RequestSampling& s) {
    body["temperature"] = s.temperature;
    body["top_p"] = s.top_p;
    body["top_k"] = s.top_k;
    body["min_p"] = s.min_p;
    body["repeat_penalty"] = s.repeat_penalty;
    body["repeat_last_n"] = s.repeat_last_n;
    body["presence_penalty"] = s.presence_penalty;
    body["frequency_penalty"] = s.frequency_penalty;
    if (s.seed) body["seed"] = *s.seed;
    if (s.max_tokens >= 0) body["max_tokens"] = s.max_tokens;
    if (!s.stop.empty()) body["stop"] = s.stop;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
}

int int_or(const json& j, const char* key, int fallback) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<int>() : fallback;
}

double number_or(const json& j, const char* key, double fallback) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string shortened(std::string_view text) {
    text = text.substr(0, text.find_first_of("\r\n"));
    std::string out(text.substr(0, 200));
    if (text.size() > 200) out += "...";
    return out;
}

}  // namespace

std::string chat_request(const std::string& model, const std::vector<ChatTurn>& turns, const RequestSampling& s) {
    json messages = json::array();
    for (const ChatTurn& t : turns) messages.push_back({{"role", t.role}, {"content", t.content}});
    json body = {{"model", model}, {"messages", messages}};
    add_sampling(body, s);
    return dump(body);
}

std::string completion_request(const std::string& model, const std::string& prompt, const RequestSampling& s) {
    json body = {{"model", model}, {"prompt", prompt}};
    add_sampling(body, s);
    return dump(body);
}

StreamEvent parse_stream_event(std::string_view data) {
    StreamEvent e;
    if (data == "[DONE]") {
        e.done = true;
        return e;
    }
    const json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw Error("The server sent an event that is not a JSON object: " + shortened(data));
    }
    if (const auto err = j.find("error"); err != j.end()) {
        e.error = error_message(dump(j));
        return e;
    }
    if (const auto model = j.find("model"); model != j.end() && model->is_string()) e.model = model->get<std::string>();
    if (const auto choices = j.find("choices"); choices != j.end() && choices->is_array() && !choices->empty()) {
        const json& c = (*choices)[0];
        if (!c.is_object()) throw Error("The server sent a choice that is not a JSON object: " + shortened(data));
        if (const auto delta = c.find("delta"); delta != c.end() && delta->is_object()) {
            if (const auto content = delta->find("content"); content != delta->end() && content->is_string()) {
                e.text = content->get<std::string>();
            }
        } else if (const auto text = c.find("text"); text != c.end() && text->is_string()) {
            e.text = text->get<std::string>();
        }
        if (const auto finish = c.find("finish_reason"); finish != c.end() && finish->is_string()) {
            e.finish_reason = finish->get<std::string>();
        }
    }
    if (const auto usage = j.find("usage"); usage != j.end() && usage->is_object()) {
        Usage u;
        u.prompt_tokens = int_or(*usage, "prompt_tokens", 0);
        u.completion_tokens = int_or(*usage, "completion_tokens", 0);
        if (const auto d = usage->find("prompt_tokens_details"); d != usage->end() && d->is_object()) {
            u.cached_tokens = int_or(*d, "cached_tokens", 0);
        }
        e.usage = u;
    }
    if (const auto t = j.find("timings"); t != j.end() && t->is_object()) {
        Timings timings;
        timings.prompt_n = int_or(*t, "prompt_n", 0);
        timings.prompt_ms = number_or(*t, "prompt_ms", 0);
        timings.predicted_n = int_or(*t, "predicted_n", 0);
        timings.predicted_ms = number_or(*t, "predicted_ms", 0);
        e.timings = timings;
    }
    return e;
}

bool EventStream::push(std::string_view bytes, const std::function<bool(const StreamEvent&)>& on_event) {
    for (const std::string& data : sse_.push(bytes)) {
        StreamEvent e;
        try {
            e = parse_stream_event(data);
        } catch (const Error& err) {
            problem_ = err.what();
            return false;
        }
        if (e.error) {
            problem_ = "The server stopped the stream: " + *e.error;
            return false;
        }
        if (e.done) {
            done_ = true;
            return false;
        }
        if (e.finish_reason) finish_reason = e.finish_reason;
        if (e.usage) usage = e.usage;
        if (e.timings) timings = e.timings;
        if (!on_event(e)) return false;
    }
    return true;
}

std::string error_message(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        for (const char* key : {"error", "detail", "message"}) {
            const auto it = j.find(key);
            if (it == j.end()) continue;
            if (it->is_string()) return shortened(it->get<std::string>());
            if (it->is_object()) {
                const auto m = it->find("message");
                if (m != it->end() && m->is_string()) return shortened(m->get<std::string>());
            }
        }
    }
    return shortened(body);
}

std::vector<ModelInfo> parse_models(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    const auto data = j.is_object() ? j.find("data") : j.end();
    if (j.is_discarded() || !j.is_object() || data == j.end() || !data->is_array()) {
        throw Error("The server's model list is not OpenAI's {\"data\": [{\"id\": ...}]}: " + shortened(body));
    }
    std::vector<ModelInfo> models;
    for (const json& m : *data) {
        if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
        ModelInfo info;
        info.id = m["id"].get<std::string>();
        if (const auto meta = m.find("meta"); meta != m.end() && meta->is_object()) {
            info.n_ctx = int_or(*meta, "n_ctx", 0);
        }
        models.push_back(std::move(info));
    }
    return models;
}

}  // namespace natter::openai
