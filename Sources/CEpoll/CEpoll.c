/* CEpoll is header-only (include/CEpoll.h); SwiftPM needs one source file in a C target. */
