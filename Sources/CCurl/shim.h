// The libcurl boundary: the C headers plus typed, non-variadic wrappers for
// what Swift cannot call directly (curl_easy_setopt, curl_multi_setopt and
// curl_easy_getinfo are variadic; CURLMsg keeps its result in a union).
#ifndef FOLLOWUP_CCURL_SHIM_H
#define FOLLOWUP_CCURL_SHIM_H

#include <curl/curl.h>

/// The shape of CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION and CURLOPT_READFUNCTION.
typedef size_t (*curl_shim_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

// MARK: curl_global_init

static inline CURLcode curl_shim_global_init_all(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}

// MARK: curl_easy_setopt

static inline CURLcode curl_shim_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode curl_shim_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode curl_shim_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode curl_shim_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode curl_shim_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode curl_shim_easy_setopt_data_callback(CURL *handle, CURLoption option, curl_shim_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

// MARK: curl_multi_setopt

static inline CURLMcode curl_shim_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

// MARK: curl_easy_getinfo

static inline CURLcode curl_shim_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode curl_shim_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode curl_shim_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

// MARK: CURLMsg

/// The transfer's result of a CURLMSG_DONE message (kept in a union Swift reads awkwardly).
static inline CURLcode curl_shim_msg_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
