// SwiftPM drops pkg-config's -D flags, so the wide-character API must be asked for here,
// before <ncurses.h>, or cchar_t / setcchar / get_wch vanish.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include <locale.h>
#include <ncursesw/ncurses.h>

// Swift 6 rejects mutable C globals (stdscr, LINES, COLS) and cannot import function-like
// macros (A_BOLD, getmaxyx): small getters instead.
static inline WINDOW *tb_stdscr(void) { return stdscr; }
static inline int tb_lines(void) { return LINES; }
static inline int tb_cols(void) { return COLS; }
static inline attr_t tb_a_bold(void) { return A_BOLD; }
static inline attr_t tb_a_reverse(void) { return A_REVERSE; }
static inline attr_t tb_a_underline(void) { return A_UNDERLINE; }
static inline attr_t tb_a_dim(void) { return A_DIM; }
static inline int tb_key_resize(void) { return KEY_RESIZE; }
static inline int tb_mvaddwstr(int y, int x, const wchar_t *s) { return mvaddwstr(y, x, s); }
