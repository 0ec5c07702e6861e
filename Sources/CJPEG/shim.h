// libjpeg-turbo (Debian: libjpeg62-turbo-dev), used to decode users' JPEG pictures.
#include <stdio.h>
#include <jpeglib.h>
