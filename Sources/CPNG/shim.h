// libpng (Debian: libpng-dev), used to decode users' PNG pictures.
#include <png.h>
