#include "CHTTPShims.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int ir_gzip_compress(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    // windowBits 15 + 16: write a gzip header and trailer, not zlib's.
    int status = deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (status != Z_OK) return status;
    size_t capacity = deflateBound(&stream, (uLong)length) + 32;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) { deflateEnd(&stream); return Z_MEM_ERROR; }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = buffer;
    stream.avail_out = (uInt)capacity;
    status = deflate(&stream, Z_FINISH);
    if (status != Z_STREAM_END) { deflateEnd(&stream); free(buffer); return status == Z_OK ? Z_BUF_ERROR : status; }
    *output = buffer;
    *output_length = stream.total_out;
    deflateEnd(&stream);
    return 0;
}

int ir_gzip_decompress(const uint8_t *input, size_t length, size_t limit, uint8_t **output, size_t *output_length) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    int status = inflateInit2(&stream, 15 + 16);
    if (status != Z_OK) return status;
    size_t capacity = length * 4 + 256;
    if (capacity > limit + 1) capacity = limit + 1;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) { inflateEnd(&stream); return Z_MEM_ERROR; }
    size_t produced = 0;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    for (;;) {
        if (produced == capacity) {
            if (capacity > limit) { free(buffer); inflateEnd(&stream); return -100; }
            size_t grown = capacity * 2;
            if (grown > limit + 1) grown = limit + 1;
            uint8_t *bigger = realloc(buffer, grown);
            if (!bigger) { free(buffer); inflateEnd(&stream); return Z_MEM_ERROR; }
            buffer = bigger;
            capacity = grown;
        }
        stream.next_out = buffer + produced;
        stream.avail_out = (uInt)(capacity - produced);
        status = inflate(&stream, Z_NO_FLUSH);
        produced = capacity - stream.avail_out;
        if (produced > limit) { free(buffer); inflateEnd(&stream); return -100; }
        if (status == Z_STREAM_END) {
            if (stream.avail_in == 0) break;
            // Another gzip member follows (RFC 1952 allows concatenation).
            if (inflateReset(&stream) != Z_OK) { free(buffer); inflateEnd(&stream); return Z_DATA_ERROR; }
            continue;
        }
        if (status == Z_BUF_ERROR && stream.avail_in == 0) { free(buffer); inflateEnd(&stream); return Z_DATA_ERROR; }
        if (status != Z_OK && status != Z_BUF_ERROR) { free(buffer); inflateEnd(&stream); return status == Z_NEED_DICT ? Z_DATA_ERROR : status; }
    }
    inflateEnd(&stream);
    *output = buffer;
    *output_length = produced;
    return 0;
}

void ir_free(void *pointer) { free(pointer); }
