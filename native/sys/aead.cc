#include "aead.h"

#include <limits.h>
#include <openssl/evp.h>

int DwGcmOpenInPlace(const uint8_t* key, size_t keyLen, const uint8_t* nonce, size_t nonceLen,
                     const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len, const uint8_t* tag) {
  const EVP_CIPHER* cipher = keyLen == 16 ? EVP_aes_128_gcm() : keyLen == 32 ? EVP_aes_256_gcm() : nullptr;
  if (cipher == nullptr || nonceLen == 0 || nonceLen > 16 || aadLen > INT_MAX) return -1;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return -1;
  int rc = -1;
  int out = 0;
  size_t at = 0;
  if (EVP_DecryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonceLen), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, key, nonce) != 1 ||
      (aadLen > 0 && EVP_DecryptUpdate(ctx, nullptr, &out, aad, static_cast<int>(aadLen)) != 1)) goto done;
  // In place (GCM is a stream mode: output position equals input position), at most 1 GiB a call.
  while (at < len) {
    const int n = static_cast<int>(len - at < (1u << 30) ? len - at : (1u << 30));
    if (EVP_DecryptUpdate(ctx, data + at, &out, data + at, n) != 1 || out != n) goto done;
    at += static_cast<size_t>(n);
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<uint8_t*>(tag)) != 1) goto done;
  rc = EVP_DecryptFinal_ex(ctx, data + len, &out) == 1 ? 1 : 0;
done:
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}
