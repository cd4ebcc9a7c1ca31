package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters for new hashes: OWASP's recommended minimum for
// argon2id (19 MiB, 2 passes, 1 lane). About 30 ms of one core per
// login; the Store bounds how many run at once, so an AUTH flood cannot
// take more than that many times 19 MiB.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds for hashes read from the file, so that a bad line cannot make a
// login take minutes or gigabytes.
const (
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
	maxBcryptCost   = 16
)

// MaxPasswordLen bounds passwords; longer ones are refused outright.
const MaxPasswordLen = 1024

var b64 = base64.RawStdEncoding

// Hash returns a new argon2id hash of password in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func Hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type argonHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

// checkHash reports whether h is a hash postern can verify.
func checkHash(h string) error {
	h = bare(h)
	switch {
	case h == revokedHash:
		return nil
	case strings.HasPrefix(h, "$argon2id$"):
		_, err := parseArgon2id(h)
		return err
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		cost, err := bcrypt.Cost([]byte(h))
		if err != nil {
			return fmt.Errorf("bad bcrypt hash: %v", err)
		}
		if cost > maxBcryptCost {
			return fmt.Errorf("bcrypt cost %d is above %d", cost, maxBcryptCost)
		}
		if len(h) != 60 {
			return errors.New("bad bcrypt hash: wrong length")
		}
		return nil
	}
	return errors.New("unknown hash scheme (want $argon2id$ or bcrypt $2a$, $2b$, $2y$)")
}

func parseArgon2id(h string) (*argonHash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	f := strings.Split(h, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, errors.New("bad argon2id hash: want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("bad argon2id hash: version %q, want v=%d", f[2], argon2.Version)
	}
	var a argonHash
	var seen [3]bool
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return nil, errors.New("bad argon2id hash: want parameters m=..,t=..,p=..")
	}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("bad argon2id parameter %q", p)
		}
		switch k {
		case "m":
			a.memory, seen[0] = uint32(n), true
		case "t":
			a.time, seen[1] = uint32(n), true
		case "p":
			if n > 255 {
				return nil, fmt.Errorf("bad argon2id parameter %q", p)
			}
			a.threads, seen[2] = uint8(n), true
		default:
			return nil, fmt.Errorf("bad argon2id parameter %q", p)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return nil, errors.New("bad argon2id hash: want parameters m, t and p")
	}
	if a.time < 1 || a.time > maxArgonTime || a.threads < 1 || a.threads > maxArgonThreads ||
		a.memory < 8*uint32(a.threads) || a.memory > maxArgonMemory {
		return nil, fmt.Errorf("argon2id parameters %s out of range", f[3])
	}
	var err error
	if a.salt, err = b64.DecodeString(f[4]); err != nil || len(a.salt) < 8 || len(a.salt) > 64 {
		return nil, errors.New("bad argon2id salt")
	}
	if a.key, err = b64.DecodeString(f[5]); err != nil || len(a.key) < 16 || len(a.key) > 128 {
		return nil, errors.New("bad argon2id hash value")
	}
	return &a, nil
}

// verifyHash reports whether password matches h, in time that does not
// depend on how much of it matches.
func verifyHash(h, password string) bool {
	if len(password) > MaxPasswordLen {
		return false
	}
	if strings.HasPrefix(h, "$argon2id$") {
		a, err := parseArgon2id(h)
		if err != nil {
			return false
		}
		key := argon2.IDKey([]byte(password), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		return subtle.ConstantTimeCompare(key, a.key) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
}
