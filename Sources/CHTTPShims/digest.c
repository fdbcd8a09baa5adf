// SHA-256 over files, for the service's model content hash (OpenSSL's EVP, already linked for TLS).
#include "CHTTPShims.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int ir_sha256_files(const char *const *paths, size_t count, int with_names, uint8_t digest[32], char *error, size_t error_size) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (!context || EVP_DigestInit_ex(context, EVP_sha256(), NULL) != 1) {
        snprintf(error, error_size, "cannot start SHA-256");
        EVP_MD_CTX_free(context);
        return -1;
    }
    static unsigned char buffer[1 << 20];
    int status = 0;
    for (size_t i = 0; i < count && status == 0; i++) {
        FILE *file = fopen(paths[i], "rb");
        if (!file) {
            snprintf(error, error_size, "cannot read %s", paths[i]);
            status = -1;
            break;
        }
        // Each file's name (without its directory) and a separator go in first, so renaming or
        // moving bytes between files changes the hash.
        // Without names: the plain SHA-256 of the bytes (one file: what a hub names an LFS file by).
        const char *slash = strrchr(paths[i], '/');
        const char *name = slash ? slash + 1 : paths[i];
        if (with_names) EVP_DigestUpdate(context, name, strlen(name) + 1);
        size_t got;
        while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) EVP_DigestUpdate(context, buffer, got);
        if (ferror(file)) {
            snprintf(error, error_size, "error reading %s", paths[i]);
            status = -1;
        }
        fclose(file);
    }
    unsigned int length = 0;
    if (status == 0 && EVP_DigestFinal_ex(context, digest, &length) != 1) {
        snprintf(error, error_size, "cannot finish SHA-256");
        status = -1;
    }
    EVP_MD_CTX_free(context);
    return status;
}
