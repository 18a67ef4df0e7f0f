// Scroll position arithmetic, kept apart from the screen so it can be tested.
#include "ui/scroll.h"

#include <algorithm>

namespace natter::ui {

namespace {
int max_offset(int total, int height) { return std::max(0, total - std::max(height, 1)); }
// A page keeps two rows of the old view for context, as pagers do.
int page(int height) { return std::max(1, height - 2); }
}  // namespace

int ScrollView::first_row(int total, int height) const {
    return std::max(0, total - std::max(height, 1) - std::min(offset_, max_offset(total, height)));
}

void ScrollView::clamp(int total, int height) { offset_ = std::clamp(offset_, 0, max_offset(total, height)); }

void ScrollView::content_changed(int old_total, int new_total, int height) {
    if (offset_ == 0) return;  // following the newest text
    offset_ += new_total - old_total;
    clamp(new_total, height);
}

void ScrollView::scroll_up(int rows, int total, int height) {
    offset_ += rows;
    clamp(total, height);
}

void ScrollView::scroll_down(int rows, int total, int height) {
    offset_ -= rows;
    clamp(total, height);
}

void ScrollView::page_up(int total, int height) { scroll_up(page(height), total, height); }
void ScrollView::page_down(int total, int height) { scroll_down(page(height), total, height); }
void ScrollView::to_top(int total, int height) { offset_ = max_offset(total, height); }

void ScrollView::show_row_at_top(int row, int total, int height) {
    offset_ = total - std::max(height, 1) - row;
    clamp(total, height);
}

}  // namespace natter::ui
