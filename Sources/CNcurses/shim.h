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

// Workstation additions (issue 7).
#include <sys/ioctl.h>
#include <wchar.h>
// ioctl is variadic (not importable): the window size in cells and, where the terminal fills
// them in, pixels. Returns 0 on success.
static inline int tb_winsize(int fd, int *rows, int *cols, int *xpixels, int *ypixels) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row; *cols = ws.ws_col; *xpixels = ws.ws_xpixel; *ypixels = ws.ws_ypixel;
    return 0;
}
static inline int tb_colors(void) { return COLORS; }
static inline int tb_color_pairs(void) { return COLOR_PAIRS; }
static inline int tb_err(void) { return ERR; }
static inline int tb_key_code_yes(void) { return KEY_CODE_YES; }
// One cell with an extended colour pair (ncurses 6: the pair travels through setcchar's opts).
static inline int tb_put_cell(int y, int x, wchar_t ch, attr_t attrs, int pair) {
    cchar_t cc;
    wchar_t text[2] = { ch, 0 };
    if (setcchar(&cc, text, attrs, 0, &pair) != OK) return ERR;
    return mvadd_wch(y, x, &cc);
}
// A pseudo-terminal pair (for tests of the terminal probe); the declarations are hidden from
// Swift's Glibc module without _XOPEN_SOURCE. Returns 0 on success.
extern int posix_openpt(int flags);
extern int grantpt(int fd);
extern int unlockpt(int fd);
extern char *ptsname(int fd);
#include <fcntl.h>
#include <unistd.h>
static inline int tb_open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0) { close(m); return -1; }
    char *name = ptsname(m);
    int s = name ? open(name, O_RDWR | O_NOCTTY) : -1;
    if (s < 0) { close(m); return -1; }
    *master = m; *slave = s;
    return 0;
}
