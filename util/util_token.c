/* util_token — token characters. See util_token.h. */
#include "util_token.h"

#define D1(c) [c] = 1
#define RANGE10(a)                                                                                 \
  D1(a), D1(a + 1), D1(a + 2), D1(a + 3), D1(a + 4), D1(a + 5), D1(a + 6), D1(a + 7), D1(a + 8),   \
      D1(a + 9)

const unsigned char util_tchar_table[256] = {
    RANGE10('0'), RANGE10('A'), RANGE10('A' + 10), D1('U'), D1('V'), D1('W'), D1('X'),  D1('Y'),
    D1('Z'),      RANGE10('a'), RANGE10('a' + 10), D1('u'), D1('v'), D1('w'), D1('x'),  D1('y'),
    D1('z'),      D1('!'),      D1('#'),           D1('$'), D1('%'), D1('&'), D1('\''), D1('*'),
    D1('+'),      D1('-'),      D1('.'),           D1('^'), D1('_'), D1('`'), D1('|'),  D1('~'),
};

int util_is_token(const char *s, size_t n) {
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!util_is_tchar((unsigned char)s[i]))
      return 0;
  return 1;
}
