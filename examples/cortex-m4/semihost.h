#ifndef SEMIHOST_H
#define SEMIHOST_H

void semihost_puts(const char *s);
void semihost_exit(int status);

#endif
