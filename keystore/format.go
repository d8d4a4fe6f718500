package keystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/scrypt"
)

// On-disk format, version 1. All files start with a 4-byte magic and a
// version byte, so a later format can be told apart.
//
//	header: "FSKH" | 1 | logN | r | p | salt[32] | nonce[12] | tag[16]
//	entry:  "FSKE" | 1 | nonce[12] | AES-256-GCM(secret)
//
// The header's tag seals an empty plaintext with the check key and the
// header's preceding bytes as additional data: it lets Open detect a wrong
// passphrase, and binds the KDF parameters and salt. An entry is sealed with
// the entry key and its magic, version and secret name as additional data,
// so an entry file renamed to another name fails to open.
const (
	formatVersion = 1
	saltSize      = 32
	keySize       = 32 // AES-256
	nonceSize     = 12
	tagSize       = 16

	headerPrefixSize = 4 + 1 + 3 + saltSize
	headerSize       = headerPrefixSize + nonceSize + tagSize
	entryPrefixSize  = 4 + 1
)

const (
	headerMagic = "FSKH"
	entryMagic  = "FSKE"
)

// kdfParams are scrypt's cost parameters, N = 1<<logN.
type kdfParams struct {
	logN, r, p uint8
}

// defaultKDF returns the cost for new stores: N = 1<<15, r = 8, p = 1,
// about 32 MiB and a tenth of a second per Open.
func defaultKDF() kdfParams { return kdfParams{logN: 15, r: 8, p: 1} }

// valid bounds the parameters read from a header, so that a damaged header
// cannot make Open allocate gigabytes.
func (k kdfParams) valid() bool {
	return 10 <= k.logN && k.logN <= 20 && 1 <= k.r && k.r <= 32 && 1 <= k.p && k.p <= 4
}

// header is a store's parsed header file.
type header struct {
	kdf   kdfParams
	salt  []byte
	nonce []byte
	tag   []byte
	raw   []byte
}

func newHeader(kdf kdfParams) (*header, error) {
	raw := make([]byte, headerSize)
	copy(raw, headerMagic)
	raw[4] = formatVersion
	raw[5], raw[6], raw[7] = kdf.logN, kdf.r, kdf.p
	if _, err := rand.Read(raw[8:headerPrefixSize]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(raw[headerPrefixSize : headerPrefixSize+nonceSize]); err != nil {
		return nil, err
	}
	return parseHeader(raw)
}

func parseHeader(raw []byte) (*header, error) {
	if len(raw) != headerSize || string(raw[:4]) != headerMagic {
		return nil, fmt.Errorf("%w: not a keystore header", ErrCorrupt)
	}
	if raw[4] != formatVersion {
		return nil, fmt.Errorf("%w: unsupported header version %d", ErrCorrupt, raw[4])
	}
	h := &header{
		kdf:   kdfParams{logN: raw[5], r: raw[6], p: raw[7]},
		salt:  raw[8:headerPrefixSize],
		nonce: raw[headerPrefixSize : headerPrefixSize+nonceSize],
		tag:   raw[headerPrefixSize+nonceSize:],
		raw:   raw,
	}
	if !h.kdf.valid() {
		return nil, fmt.Errorf("%w: KDF parameters out of range", ErrCorrupt)
	}
	return h, nil
}

// keys holds the AEADs derived from a passphrase and a header.
type keys struct {
	check cipher.AEAD
	entry cipher.AEAD
}

// deriveKeys stretches passphrase with scrypt and splits the result with
// HKDF into independent keys for the header check and for entries.
func deriveKeys(passphrase []byte, h *header) (*keys, error) {
	master, err := scrypt.Key(passphrase, h.salt, 1<<h.kdf.logN, int(h.kdf.r), int(h.kdf.p), keySize)
	if err != nil {
		return nil, fmt.Errorf("keystore: derive key: %w", err)
	}
	defer clear(master)
	check, err := newAEAD(master, "fedscore keystore v1 check")
	if err != nil {
		return nil, err
	}
	entry, err := newAEAD(master, "fedscore keystore v1 entry")
	if err != nil {
		return nil, err
	}
	return &keys{check: check, entry: entry}, nil
}

func newAEAD(master []byte, info string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, master, nil, info, keySize)
	if err != nil {
		return nil, fmt.Errorf("keystore: derive key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: derive key: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal fills in h's check tag.
func (k *keys) seal(h *header) {
	tag := k.check.Seal(nil, h.nonce, nil, h.raw[:headerPrefixSize])
	copy(h.tag, tag)
}

// verify reports whether h's check tag opens under k, that is whether the
// passphrase is the one the store was created with.
func (k *keys) verify(h *header) bool {
	_, err := k.check.Open(nil, h.nonce, h.tag, h.raw[:headerPrefixSize])
	return err == nil
}

func (k *keys) sealEntry(name string, secret []byte) ([]byte, error) {
	out := make([]byte, entryPrefixSize+nonceSize, entryPrefixSize+nonceSize+len(secret)+tagSize)
	copy(out, entryMagic)
	out[4] = formatVersion
	nonce := out[entryPrefixSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keystore: nonce: %w", err)
	}
	return k.entry.Seal(out, nonce, secret, entryAD(name)), nil
}

func (k *keys) openEntry(name string, data []byte) ([]byte, error) {
	if len(data) < entryPrefixSize+nonceSize+tagSize || string(data[:4]) != entryMagic {
		return nil, fmt.Errorf("%w: %s: not a keystore entry", ErrCorrupt, name)
	}
	if data[4] != formatVersion {
		return nil, fmt.Errorf("%w: %s: unsupported entry version %d", ErrCorrupt, name, data[4])
	}
	nonce := data[entryPrefixSize : entryPrefixSize+nonceSize]
	secret, err := k.entry.Open(nil, nonce, data[entryPrefixSize+nonceSize:], entryAD(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: authentication failed", ErrCorrupt, name)
	}
	return secret, nil
}

func entryAD(name string) []byte {
	ad := make([]byte, 0, entryPrefixSize+len(name))
	ad = append(ad, entryMagic...)
	ad = append(ad, formatVersion)
	return append(ad, name...)
}
