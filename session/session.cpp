// The session's front-end side: the conversation, templates and what the model sees. The
// generator thread is in generator.cpp, settings by name in session_settings.cpp, transcripts
// in session_io.cpp.
#include "session/session.h"

#include <algorithm>

#include "core/paths.h"
#include "session/remote_backend.h"
#include "session/session_impl.h"
#include "core/error.h"

namespace natter {

std::string_view role_name(Role role) {
    switch (role) {
        case Role::System: return "system";
        case Role::User: return "user";
        case Role::Assistant: return "assistant";
    }
    return "user";
}

std::string_view stop_reason_name(StopReason reason) {
    switch (reason) {
        case StopReason::None: return "none";
        case StopReason::EndOfText: return "eos";
        case StopReason::StopString: return "stop";
        case StopReason::ReversePrompt: return "reverse-prompt";
        case StopReason::MaxTokens: return "max-tokens";
        case StopReason::ContextFull: return "context-full";
        case StopReason::Cancelled: return "cancelled";
        case StopReason::Error: return "error";
    }
    return "none";
}

// --- EventQueue ---------------------------------------------------------------------------

void EventQueue::push(SessionEvent event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    ready_.notify_all();
}

std::optional<SessionEvent> EventQueue::pop() {
    std::lock_guard lock(mutex_);
    if (events_.empty()) return std::nullopt;
    SessionEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

std::optional<SessionEvent> EventQueue::wait_pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    SessionEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

void EventQueue::set_notifier(std::function<void()> notify) {
    std::lock_guard lock(notify_mutex_);
    notify_ = std::move(notify);
}

void EventQueue::notify() {
    std::lock_guard lock(notify_mutex_);
    if (notify_) notify_();
}

// --- rendering ----------------------------------------------------------------------------

std::vector<ChatMessage> ConversationView::window(size_t pinned, size_t first) const {
    std::vector<ChatMessage> out;
    if (!system_prompt.empty()) out.push_back({"system", system_prompt});
    for (size_t i = 0; i < messages.size(); ++i) {
        if (i >= pinned && i < first) continue;
        const Message& m = messages[i];
        out.push_back({std::string(role_name(m.role)), m.role == Role::User ? user_prefix + m.text + user_suffix : m.text});
    }
    return out;
}

std::string ConversationView::render(size_t pinned, size_t first, bool add_generation_prompt) const {
    return chat_template->render(window(pinned, first), add_generation_prompt);
}

namespace {

// SentencePiece vocabularies usually put a space before the text they tokenize ("▁Hello"),
// on a continuation of the context too (as llama.cpp does).
bool adds_space_prefix(const Tokenizer& tokenizer) {
    const auto ids = tokenizer.tokenize("a", false, false);
    return !ids.empty() && tokenizer.token_to_piece(ids.front(), false).starts_with(' ');
}

}  // namespace

std::vector<int32_t> tokenize_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                     std::string_view text, bool at_start) {
    // A continuation that starts with a space gets that space from the prefix instead of a
    // second one, so it tokenizes as it would inside the whole text.
    if (!at_start && text.starts_with(' ') && adds_space_prefix(tokenizer)) text.remove_prefix(1);
    const bool add_special = at_start && chat_template.tokenizer_adds_bos;
    std::vector<int32_t> tokens = tokenizer.tokenize(text, add_special, true);
    // A prompt must not end in EOS even where the metadata asks the tokenizer to append it.
    if (add_special && tokenizer.add_eos() && !tokens.empty() && tokens.back() == tokenizer.eos()) tokens.pop_back();
    return tokens;
}

// --- Impl ---------------------------------------------------------------------------------

const ChatTemplate& chat_template_for_model(const TemplateRegistry& registry, const Model& model,
                                            const std::string& requested) {
    if (!requested.empty()) return registry.get(requested);
    const std::string jinja = model.file().get_string("tokenizer.chat_template", "");
    const auto detected = TemplateRegistry::detect(jinja);
    if (detected && registry.find(*detected)) return registry.get(*detected);
    // No template in the file (a base model, an old conversion): the family's own format, which
    // is what its instruct models were trained on; chatml for the rest.
    const std::string arch = model.file().get_string("general.architecture", "");
    if (arch.starts_with("gemma") && registry.find("gemma")) return registry.get("gemma");
    if (arch == "phi3" && registry.find("phi-3")) return registry.get("phi-3");
    return registry.get("chatml");
}

namespace {

int context_size(const SessionOptions& o, const Model& model) {
    const int n = o.n_ctx > 0 ? o.n_ctx : model.hparams().n_ctx_train;
    if (n < 16) throw Error("The context size must be at least 16 tokens (got " + std::to_string(n) + ").");
    return n;
}

}  // namespace

Session::Impl::Impl(std::shared_ptr<const Model> model_in, const SessionOptions& opts)
    : model(std::move(model_in)), options(opts), created(WallClock::now()) {
    system_prompt = options.system_prompt.value_or("");
    settings = options.settings;
    reverse_prompts = options.reverse_prompts;
    keep = options.keep;
    if (!model) {  // a remote model: the server renders its template and holds the context
        remote = std::make_unique<RemoteBackend>(options.remote);
        chat_template = &templates.get("chatml");  // never rendered; keeps the pointer valid
    } else {
        tokenizer = &model->tokenizer();
        if (options.load_user_templates) templates.load_directory(paths::user_templates_dir());
        chat_template = &chat_template_for_model(templates, *model, options.template_name);
        forward = std::make_unique<Forward>(*model, ForwardOptions{context_size(options, *model), options.n_batch, options.n_threads, options.flash_attn});
        sampler = std::make_unique<Sampler>(settings.sampling);
    }
    thread = std::thread([this] { run(); });
}

Session::Impl::~Impl() {
    {
        std::lock_guard lock(mutex);
        quit = true;
        stop = true;
    }
    changed.notify_all();
    thread.join();
}

void Session::Impl::require_idle() const {
    if (busy) throw Error("A reply is still being written; stop it first (Ctrl-C) or wait for it to finish.");
}

void Session::Impl::check_fits(const std::string& user_text) const {
    if (user_text.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("The message is empty.");
    if (remote) return;  // the server measures it against its context
    Message message;
    message.text = user_text;
    ConversationView alone{chat_template, system_prompt, {message}, options.in_prefix, options.in_suffix};
    const std::string text = alone.render(1, 1, true);
    const int n = static_cast<int>(tokenize_prompt(*tokenizer, *chat_template, text, true).size());
    const int n_ctx = forward->n_ctx();
    if (n + 1 > n_ctx) {
        throw Error("The message is too long: with the template and system prompt it takes " + std::to_string(n) +
                    " tokens, but the context holds " + std::to_string(n_ctx) + " (shorten it or raise -c).");
    }
}

void Session::Impl::trim_cache_to_conversation() {
    if (remote) return;
    const ConversationView view{chat_template, system_prompt, messages, options.in_prefix, options.in_suffix};
    const size_t first = std::min(first_kept, messages.size());
    const std::string text = view.render(std::min(pinned, first), first, false);
    const ContextCache::Plan plan = cache.plan(text, [&](std::string_view piece, bool at_start) {
        return tokenize_prompt(*tokenizer, *chat_template, piece, at_start);
    });
    cache.truncate(plan.keep);
}

void Session::Impl::start_reply() {
    Message reply;
    reply.role = Role::Assistant;
    reply.created = WallClock::now();
    messages.push_back(std::move(reply));
    reply_requested = std::chrono::steady_clock::now();
    stop = false;
    busy = true;
    job_posted = true;
    ++revision;
    changed.notify_all();
}

// --- Session: conversation ----------------------------------------------------------------

Session::Session(const SessionOptions& options)
    : Session(options.remote.url.empty()
                  ? std::shared_ptr<const Model>(Model::load(paths::resolve_model_path(options.model_path)))
                  : nullptr,
              options) {}

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : impl_(std::make_unique<Impl>(std::move(model), options)) {}

Session::~Session() = default;

void Session::submit(const std::string& user_text) {
    std::lock_guard lock(impl_->mutex);
    impl_->require_idle();
    impl_->check_fits(user_text);
    Message m;
    m.text = user_text;
    m.created = m.finished = WallClock::now();
    impl_->messages.push_back(std::move(m));
    impl_->start_reply();
}

void Session::regenerate() {
    std::lock_guard lock(impl_->mutex);
    impl_->require_idle();
    auto& msgs = impl_->messages;
    if (!msgs.empty() && msgs.back().role == Role::Assistant) msgs.pop_back();
    if (msgs.empty() || msgs.back().role != Role::User) throw Error("There is no reply to regenerate.");
    impl_->start_reply();
}

std::string Session::undo() {
    std::lock_guard lock(impl_->mutex);
    impl_->require_idle();
    auto& msgs = impl_->messages;
    if (!msgs.empty() && msgs.back().role == Role::Assistant) msgs.pop_back();
    std::string text;
    if (!msgs.empty() && msgs.back().role == Role::User) {
        text = std::move(msgs.back().text);
        msgs.pop_back();
    }
    impl_->first_kept = std::min(impl_->first_kept, msgs.size());
    impl_->pinned = std::min(impl_->pinned, impl_->first_kept);
    impl_->trim_cache_to_conversation();
    ++impl_->revision;
    return text;
}

std::string Session::last_user_text() const {
    std::lock_guard lock(impl_->mutex);
    for (auto it = impl_->messages.rbegin(); it != impl_->messages.rend(); ++it) {
        if (it->role == Role::User) return it->text;
    }
    return {};
}

void Session::edit_last(const std::string& new_text) {
    std::lock_guard lock(impl_->mutex);
    impl_->require_idle();
    auto& msgs = impl_->messages;
    const auto last_user = std::find_if(msgs.rbegin(), msgs.rend(), [](const Message& m) { return m.role == Role::User; });
    if (last_user == msgs.rend()) throw Error("There is no message to edit.");
    impl_->check_fits(new_text);
    const size_t index = static_cast<size_t>(msgs.rend() - last_user) - 1;
    msgs.resize(index + 1);
    msgs[index].text = new_text;
    msgs[index].created = msgs[index].finished = WallClock::now();
    impl_->start_reply();
}

void Session::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->require_idle();
    impl_->messages.clear();
    impl_->first_kept = impl_->pinned = 0;
    impl_->trim_cache_to_conversation();
    impl_->saved_revision = impl_->revision;
    impl_->autosave_path.clear();  // a new conversation gets its own autosave file
}

void Session::cancel() { impl_->stop.store(true); }

bool Session::busy() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->busy;
}

void Session::wait_idle() const {
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait(lock, [&] { return !impl_->busy; });
}

std::vector<Message> Session::messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->messages;
}

// --- events -------------------------------------------------------------------------------

std::optional<SessionEvent> Session::poll_event() { return impl_->events.pop(); }

std::optional<SessionEvent> Session::wait_event(std::chrono::milliseconds timeout) {
    return impl_->events.wait_pop(timeout);
}

void Session::set_event_notifier(std::function<void()> notify) { impl_->events.set_notifier(std::move(notify)); }

// --- templates ----------------------------------------------------------------------------

std::vector<std::string> Session::template_names() const {
    if (impl_->remote) return {};
    return impl_->templates.names();
}

std::string Session::template_name() const {
    if (impl_->remote) return "server";
    std::lock_guard lock(impl_->mutex);
    return impl_->chat_template->name;
}

void Session::set_template(const std::string& name) {
    if (impl_->remote) {
        throw Error("Templates are the server's job for chat completions: a remote model always gets its own.");
    }
    const ChatTemplate& t = impl_->templates.get(name);
    std::lock_guard lock(impl_->mutex);
    if (impl_->chat_template != &t && !impl_->messages.empty()) ++impl_->revision;
    impl_->chat_template = &t;
}

std::vector<std::string> Session::template_warnings() const { return impl_->templates.warnings(); }

std::string Session::system_prompt() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->system_prompt;
}

void Session::set_system_prompt(const std::string& text) {
    std::lock_guard lock(impl_->mutex);
    impl_->system_prompt = text;
    if (!impl_->messages.empty()) ++impl_->revision;
}

std::vector<std::string> Session::reverse_prompts() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->reverse_prompts;
}

void Session::set_reverse_prompts(std::vector<std::string> prompts) {
    std::lock_guard lock(impl_->mutex);
    impl_->reverse_prompts = std::move(prompts);
}

// --- what the model sees ------------------------------------------------------------------

std::string Session::prompt_text() const {
    std::lock_guard lock(impl_->mutex);
    const auto& msgs = impl_->messages;
    if (impl_->remote) {  // what the next request sends; the server renders it in its template
        const ConversationView view{impl_->chat_template, impl_->system_prompt, msgs, impl_->options.in_prefix, impl_->options.in_suffix};
        std::string text;
        for (const ChatMessage& m : view.window(0, 0)) text += "[" + m.role + "]\n" + m.content + "\n\n";
        return text;
    }
    ConversationView view{impl_->chat_template, impl_->system_prompt, msgs, impl_->options.in_prefix, impl_->options.in_suffix};
    // While a reply streams, show the prompt it was given plus what it has written so far.
    const bool replying = impl_->busy && !msgs.empty();
    if (replying) view.messages.pop_back();
    const bool ask = !view.messages.empty() && view.messages.back().role == Role::User;
    std::string text = view.render(impl_->pinned, impl_->first_kept, ask);
    if (replying) text += msgs.back().text;
    return text;
}

std::vector<int32_t> Session::context_tokens() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->cache.tokens();
}

ContextUsage Session::context() const {
    if (impl_->remote) return {impl_->remote->context_used(), impl_->remote->n_ctx()};
    std::lock_guard lock(impl_->mutex);
    return {impl_->cache.size(), impl_->forward->n_ctx()};
}

bool Session::is_remote() const { return impl_->remote != nullptr; }

std::string Session::model_name() const {
    if (impl_->remote) return impl_->remote->model();
    const std::string stem = std::filesystem::path(impl_->model->file().path()).stem().string();
    return impl_->model->file().get_string("general.name", stem);
}

std::string Session::model_path() const { return impl_->remote ? impl_->remote->base_url() : impl_->model->file().path(); }
std::string Session::quant_type() const { return impl_->remote ? "remote" : impl_->model->quant_name(); }
int Session::n_threads() const { return impl_->remote ? 0 : impl_->forward->n_threads(); }

}  // namespace natter
