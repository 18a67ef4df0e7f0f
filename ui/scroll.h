#pragma once
// Which rows of the scrollback the window shows. The position is kept as a distance from
// the bottom: 0 follows the newest text; anything else stays put while a reply streams in
// below, so the reader is never yanked away from what they are reading.
namespace natter::ui {

class ScrollView {
public:
    // The first visible row for `total` rows in a window of `height` rows.
    int first_row(int total, int height) const;
    bool following() const { return offset_ == 0; }
    int offset() const { return offset_; }
    // Rows hidden below the window (for the "more below" marker).
    int rows_below() const { return offset_; }

    // The content changed from old_total to new_total rows at its end (a token arrived,
    // a turn was added). A reader scrolled up keeps the same rows in view.
    void content_changed(int old_total, int new_total, int height);

    void scroll_up(int rows, int total, int height);
    void scroll_down(int rows, int total, int height);
    void page_up(int total, int height);
    void page_down(int total, int height);
    void to_top(int total, int height);
    void to_bottom() { offset_ = 0; }
    // Puts `row` at the top of the window (after a resize re-wrapped everything).
    void show_row_at_top(int row, int total, int height);

private:
    void clamp(int total, int height);
    int offset_ = 0;
};

}  // namespace natter::ui
