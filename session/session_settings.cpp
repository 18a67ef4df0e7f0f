// Live settings: whole-struct get/set and by name for `/set <param> <value>`.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <variant>

#include "session/session_impl.h"
#include "core/error.h"

namespace natter {

namespace {

template <typename T>
T parse_number(std::string_view name, std::string_view text) {
    if constexpr (std::is_same_v<T, uint64_t>) {  // the sampler's "choose one" value, shown as "random"
        if (text == "random" || text == "-1") return kRandomSeed;
    }
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        if constexpr (std::is_integral_v<T>) {
            double as_double = 0;
            const auto [dend, dec] = std::from_chars(text.data(), text.data() + text.size(), as_double);
            if (dec == std::errc() && dend == text.data() + text.size()) {
                throw Error(std::string(name) + " takes a whole number, not " + std::string(text) + ".");
            }
        }
        throw Error("The value \"" + std::string(text) + "\" for " + std::string(name) + " is not a number.");
    }
    return value;
}

std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// Where a setting lives: a float, an int or the 64-bit seed.
using Slot = std::variant<float*, int*, uint64_t*>;

struct Param {
    const char* name;
    const char* alias;  // another accepted spelling, or ""
    double lo, hi;
    Slot (*slot)(ChatSettings&, int& keep);
};

const Param kParams[] = {
    {"temp", "temperature", 0, 100, [](ChatSettings& s, int&) -> Slot { return &s.sampling.temperature; }},
    {"top-k", "", 0, 1 << 24, [](ChatSettings& s, int&) -> Slot { return &s.sampling.top_k; }},
    {"top-p", "", 0, 1, [](ChatSettings& s, int&) -> Slot { return &s.sampling.top_p; }},
    {"min-p", "", 0, 1, [](ChatSettings& s, int&) -> Slot { return &s.sampling.min_p; }},
    {"repeat-penalty", "", 0.01, 100, [](ChatSettings& s, int&) -> Slot { return &s.sampling.repeat_penalty; }},
    {"repeat-last-n", "", -1, 1 << 24, [](ChatSettings& s, int&) -> Slot { return &s.sampling.repeat_last_n; }},
    {"frequency-penalty", "", -100, 100, [](ChatSettings& s, int&) -> Slot { return &s.sampling.frequency_penalty; }},
    {"presence-penalty", "", -100, 100, [](ChatSettings& s, int&) -> Slot { return &s.sampling.presence_penalty; }},
    {"seed", "", 0, 18446744073709551615.0, [](ChatSettings& s, int&) -> Slot { return &s.sampling.seed; }},
    {"max-tokens", "n-predict", -1, 1 << 24, [](ChatSettings& s, int&) -> Slot { return &s.max_tokens; }},
    {"keep", "", -1, 1 << 24, [](ChatSettings&, int& keep) -> Slot { return &keep; }},
};

// Parses and range-checks before storing, so a bad value changes nothing.
void assign(const Param& p, Slot slot, std::string_view text) {
    std::visit([&](auto* target) {
        using T = std::remove_pointer_t<decltype(target)>;
        const T value = parse_number<T>(p.name, text);
        const double v = static_cast<double>(value);
        if (!std::isfinite(v) || v < p.lo || v > p.hi) {
            throw Error("The value for " + std::string(p.name) + " must be between " + format_number(p.lo) + " and " +
                        format_number(p.hi) + ".");
        }
        *target = value;
    }, slot);
}

const Param& find_param(std::string_view raw_name) {
    std::string name(raw_name);
    for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Param& p : kParams) {
        if (name == p.name || name == p.alias) return p;
    }
    std::string known;
    for (const Param& p : kParams) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw Error("There is no setting called \"" + std::string(raw_name) + "\" (settings: " + known + ").");
}

}  // namespace

ChatSettings Session::settings() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->settings;
}

void Session::set_settings(const ChatSettings& settings) {
    std::lock_guard lock(impl_->mutex);
    impl_->settings = settings;
}

void Session::set(std::string_view name, std::string_view value) {
    const Param& p = find_param(name);
    std::lock_guard lock(impl_->mutex);
    assign(p, p.slot(impl_->settings, impl_->keep), value);
}

std::string Session::get(std::string_view name) const {
    const Param& p = find_param(name);
    std::lock_guard lock(impl_->mutex);
    return std::visit([](auto* v) {
        if constexpr (std::is_same_v<decltype(v), float*>) return format_number(*v);
        else if constexpr (std::is_same_v<decltype(v), uint64_t*>) return *v == kRandomSeed ? std::string("random") : std::to_string(*v);
        else return std::to_string(*v);
    }, p.slot(impl_->settings, impl_->keep));
}

std::vector<std::string> Session::setting_names() {
    std::vector<std::string> names;
    for (const Param& p : kParams) names.emplace_back(p.name);
    return names;
}

}  // namespace natter
