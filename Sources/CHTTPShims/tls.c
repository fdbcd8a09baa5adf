#include "CHTTPShims.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ir_tls_context { SSL_CTX *ctx; };
struct ir_tls_session { SSL *ssl; BIO *incoming; BIO *outgoing; };

static void last_error(char *error, size_t size, const char *what) {
    if (!error || size == 0) return;
    unsigned long code = ERR_get_error();
    char reason[256] = "unknown error";
    if (code) ERR_error_string_n(code, reason, sizeof reason);
    snprintf(error, size, "%s: %s", what, reason);
    ERR_clear_error();
}

ir_tls_context *ir_tls_context_new(const char *certificate_path, const char *key_path, char *error, size_t error_size) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) { last_error(error, error_size, "SSL_CTX_new"); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate_path) != 1) {
        last_error(error, error_size, "cannot load certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        last_error(error, error_size, "cannot load private key");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        last_error(error, error_size, "private key does not match the certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    ir_tls_context *context = calloc(1, sizeof *context);
    if (!context) { SSL_CTX_free(ctx); return NULL; }
    context->ctx = ctx;
    return context;
}

void ir_tls_context_free(ir_tls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx);
    free(context);
}

ir_tls_session *ir_tls_session_new(ir_tls_context *context) {
    ir_tls_session *session = calloc(1, sizeof *session);
    if (!session) return NULL;
    session->ssl = SSL_new(context->ctx);
    session->incoming = BIO_new(BIO_s_mem());
    session->outgoing = BIO_new(BIO_s_mem());
    if (!session->ssl || !session->incoming || !session->outgoing) {
        if (session->ssl) SSL_free(session->ssl);
        else { if (session->incoming) BIO_free(session->incoming); if (session->outgoing) BIO_free(session->outgoing); }
        free(session);
        return NULL;
    }
    BIO_set_mem_eof_return(session->incoming, -1);
    SSL_set_bio(session->ssl, session->incoming, session->outgoing);  // the SSL now owns both BIOs
    SSL_set_accept_state(session->ssl);
    return session;
}

void ir_tls_session_free(ir_tls_session *session) {
    if (!session) return;
    SSL_free(session->ssl);
    free(session);
}

int ir_tls_feed(ir_tls_session *session, const uint8_t *data, size_t length) {
    int written = BIO_write(session->incoming, data, (int)length);
    return written < 0 ? 0 : written;
}

// OpenSSL keeps one error queue per thread, and SSL_get_error reads it: "the current thread's error queue must
// be empty before the TLS/SSL I/O operation is attempted, or SSL_get_error() will not work reliably"
// (SSL_get_error(3)). Connections share Dispatch's threads, so an error one session left behind could make
// another session's ordinary WANT_READ look fatal. Every I/O call below starts with an empty queue, and
// shutdown leaves it empty.
int ir_tls_read(ir_tls_session *session, uint8_t *buffer, size_t capacity, char *error, size_t error_size) {
    ERR_clear_error();
    int n = SSL_read(session->ssl, buffer, (int)capacity);
    if (n > 0) return n;
    int code = SSL_get_error(session->ssl, n);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) { ERR_clear_error(); return 0; }
    if (code == SSL_ERROR_ZERO_RETURN) return -2;
    last_error(error, error_size, "TLS read");
    return -1;
}

int ir_tls_write(ir_tls_session *session, const uint8_t *data, size_t length, char *error, size_t error_size) {
    if (length == 0) return 0;
    ERR_clear_error();
    int n = SSL_write(session->ssl, data, (int)length);
    if (n > 0) return n;
    int code = SSL_get_error(session->ssl, n);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) { ERR_clear_error(); return 0; }
    last_error(error, error_size, "TLS write");
    return -1;
}

int ir_tls_drain(ir_tls_session *session, uint8_t *buffer, size_t capacity) {
    if (BIO_ctrl_pending(session->outgoing) == 0) return 0;
    int n = BIO_read(session->outgoing, buffer, (int)capacity);
    return n < 0 ? 0 : n;
}

int ir_tls_handshake_done(ir_tls_session *session) { return SSL_is_init_finished(session->ssl) ? 1 : 0; }

void ir_tls_shutdown(ir_tls_session *session) {
    ERR_clear_error();
    SSL_shutdown(session->ssl);
    ERR_clear_error();   // a session that never finished its handshake cannot shut down cleanly: nothing to report
}
