/*
** core/status.c: status names and messages, generated from FT_STATUS_MAP.
*/
#include "facetrail.h"

const char *ft_strerror(int status)
{
    switch (status) {
#define FT__STATUS_MSG(name, value, msg) \
    case value: return msg;
        FT_STATUS_MAP(FT__STATUS_MSG)
#undef FT__STATUS_MSG
    }
    return "unknown status";
}

const char *ft_status_name(int status)
{
    switch (status) {
#define FT__STATUS_NAME(name, value, msg) \
    case value: return #name;
        FT_STATUS_MAP(FT__STATUS_NAME)
#undef FT__STATUS_NAME
    }
    return "UNKNOWN";
}
