// Status line segments and the shrinking rule that fits them into the window.
#include "ui/status.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "ui/text.h"

namespace natter::ui {

namespace {

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
    return buf;
}

// One piece of the line: its forms from longest to shortest ("" hides it).
struct Segment {
    std::vector<std::string> forms;
    std::size_t form = 0;
    const std::string& text() const { return forms[form]; }
    void shrink() { form = std::min(form + 1, forms.size() - 1); }
};

enum SegmentIndex { kActivity, kModel, kTemplate, kSampling, kContext, kSpeed, kSegments };

// The order in which segments give up room. The sampling settings stay longest: they are
// what the adjustment keys change, and the model's name is on every reply's label anyway.
constexpr SegmentIndex kShrinkOrder[] = {kModel, kSpeed, kContext, kSampling, kModel, kContext,
                                         kSpeed, kTemplate, kModel, kActivity, kContext};

constexpr std::string_view kSeparator = " \u2502 ";

int line_width(const std::vector<Segment>& segments) {
    int width = 0;
    int shown = 0;
    for (const Segment& s : segments) {
        if (s.text().empty()) continue;
        width += display_width(s.text());
        ++shown;
    }
    return width + std::max(0, shown - 1) * display_width(kSeparator) + 2;  // a space at each end
}

Segment model_segment(const StatusInfo& i) {
    const std::string full = i.quant.empty() ? i.model : i.model + " " + i.quant;
    const std::string shorter = display_width(i.model) > 16 ? truncate_to_width(i.model, 16) + " " + i.quant : full;
    return Segment{{full, shorter, i.quant, ""}};
}

Segment sampling_segment(const StatusInfo& i) {
    return Segment{{format("temp %.2f  top-p %.2f  top-k %.0f  rep %.2f", i.temperature, i.top_p, i.top_k,
                           i.repeat_penalty),
                    format("t%.2f p%.2f k%.0f r%.2f", i.temperature, i.top_p, i.top_k, i.repeat_penalty)}};
}

Segment context_segment(const StatusInfo& i) {
    const std::string numbers = format("%.0f/%.0f", i.ctx_used, i.ctx_total);
    return Segment{{"ctx " + gauge(i.ctx_used, i.ctx_total, 10) + " " + numbers,
                    "ctx " + gauge(i.ctx_used, i.ctx_total, 5) + " " + numbers, "ctx " + numbers, ""}};
}

Segment progress_segment(const StatusInfo& i) {
    const double pct = i.progress_total > 0 ? 100.0 * i.progress_done / i.progress_total : 0;
    return Segment{{"prompt " + gauge(i.progress_done, i.progress_total, 20) + format(" %.0f%%", pct),
                    "prompt " + gauge(i.progress_done, i.progress_total, 8) + format(" %.0f%%", pct),
                    format("prompt %.0f%%", pct)}};
}

Segment speed_segment(const StatusInfo& i) {
    if (!i.tokens_per_second) return Segment{{""}};
    const std::string rate = format("%.1f tok/s", *i.tokens_per_second);
    const std::string ttft = i.ttft_ms ? format("ttft %.2fs  ", *i.ttft_ms / 1000.0) : "";
    return Segment{{ttft + rate, rate, ""}};
}

}  // namespace

std::string gauge(int done, int total, int cells) {
    static const char* const kEighths[] = {"", "\u258F", "\u258E", "\u258D", "\u258C", "\u258B", "\u258A", "\u2589"};
    const double ratio = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 0.0;
    const int eighths = static_cast<int>(ratio * cells * 8 + 0.5);
    std::string bar = "\u2595";
    int used = 0;
    for (; used < eighths / 8; ++used) bar += "\u2588";
    if (eighths % 8 != 0 && used < cells) {
        bar += kEighths[eighths % 8];
        ++used;
    }
    for (; used < cells; ++used) bar += " ";
    return bar + "\u258F";
}

std::string compose_status(const StatusInfo& info, int width) {
    std::vector<Segment> segments(kSegments);
    segments[kActivity] = Segment{{info.replying ? "\u25CF writing" : "", info.replying ? "\u25CF" : ""}};
    segments[kModel] = model_segment(info);
    segments[kTemplate] = Segment{{info.template_name, ""}};
    segments[kSampling] = sampling_segment(info);
    segments[kContext] = info.evaluating ? progress_segment(info) : context_segment(info);
    segments[kSpeed] = speed_segment(info);
    for (SegmentIndex next : kShrinkOrder) {
        if (line_width(segments) <= width) break;
        segments[next].shrink();
    }
    std::string line = " ";
    for (const Segment& s : segments) {
        if (s.text().empty()) continue;
        if (line.size() > 1) line += kSeparator;
        line += s.text();
    }
    return truncate_to_width(line + " ", width);
}

}  // namespace natter::ui
