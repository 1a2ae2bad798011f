// AES-GCM decryption in place through OpenSSL's EVP interface (the OpenSSL that Node is built
// with: its headers come with Node's, its symbols from the node binary), for SMB3's encrypted
// messages (protocols/smb/crypto/encrypt.ts): no output buffer, no copy.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Decrypts `data` (len bytes) in place with AES-GCM (key 16 or 32 bytes, nonce 12 bytes), with
// `aad` authenticated, and checks the 16-byte `tag`. Returns 1 when the tag matches, 0 when it
// does not (then `data` holds garbage), -1 on an OpenSSL error or bad sizes.
int DwGcmOpenInPlace(const uint8_t* key, size_t keyLen, const uint8_t* nonce, size_t nonceLen,
                     const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len, const uint8_t* tag);
