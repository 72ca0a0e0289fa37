"""Security: signing, encryption, the SM suite, keys, institution authentication, hardened XML."""
