// Thin C glue between the HTTP module and zlib / OpenSSL. Swift cannot call
// the C macros these libraries are driven by (SSL_CTX_set_options,
// deflateInit2, BIO_pending, ...), so each is wrapped in a plain function.
#ifndef CHTTPSHIMS_H
#define CHTTPSHIMS_H

#include <stddef.h>
#include <stdint.h>

// ---- gzip (zlib) ----------------------------------------------------------

/// Compresses `input` as one gzip member into a malloc'd buffer (*output,
/// *output_length). Returns 0 on success, a zlib error code otherwise.
int ir_gzip_compress(const uint8_t *input, size_t length, int level, uint8_t **output, size_t *output_length);

/// Decompresses gzip data (concatenated members allowed). Stops with -100 as
/// soon as the output would exceed `limit` bytes (zip-bomb guard); other
/// negative values are zlib errors (corrupt data, truncated stream).
int ir_gzip_decompress(const uint8_t *input, size_t length, size_t limit, uint8_t **output, size_t *output_length);

void ir_free(void *pointer);

// ---- TLS (OpenSSL) ---------------------------------------------------------

typedef struct ir_tls_context ir_tls_context;
typedef struct ir_tls_session ir_tls_session;

/// Server context from PEM certificate chain and key files. NULL on failure,
/// with a message in `error` (at most error_size bytes).
ir_tls_context *ir_tls_context_new(const char *certificate_path, const char *key_path, char *error, size_t error_size);
void ir_tls_context_free(ir_tls_context *context);

/// A server-side session over memory BIOs: ciphertext in and out goes
/// through the functions below, so the socket code stays ours.
ir_tls_session *ir_tls_session_new(ir_tls_context *context);
void ir_tls_session_free(ir_tls_session *session);

/// Feeds ciphertext received from the peer. Returns bytes consumed.
int ir_tls_feed(ir_tls_session *session, const uint8_t *data, size_t length);

/// Reads decrypted application data. Returns >0 bytes, 0 when more
/// ciphertext is needed, -1 on a fatal TLS error (message in `error`),
/// -2 when the peer sent close_notify.
int ir_tls_read(ir_tls_session *session, uint8_t *buffer, size_t capacity, char *error, size_t error_size);

/// Encrypts application data. Returns bytes accepted, 0 if the handshake
/// must progress first, -1 on fatal error.
int ir_tls_write(ir_tls_session *session, const uint8_t *data, size_t length, char *error, size_t error_size);

/// Moves pending ciphertext (handshake records, encrypted data) to `buffer`.
/// Returns bytes copied (0 when nothing is pending).
int ir_tls_drain(ir_tls_session *session, uint8_t *buffer, size_t capacity);

/// 1 once the handshake has completed.
int ir_tls_handshake_done(ir_tls_session *session);

/// Queues a close_notify alert (then drain it to the socket).
void ir_tls_shutdown(ir_tls_session *session);

// SHA-256 over the files in order (each preceded by its base name and a NUL); 0 on success,
// -1 with a message in `error`. Not thread-safe (one static read buffer): callers serialize.
int ir_sha256_files(const char *const *paths, size_t count, int with_names, uint8_t digest[32], char *error, size_t error_size);

#endif
