package backupmx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// sharedTimeout bounds one look-up or store in the shared backend: a
// slow backend costs a callout, not the client's patience.
const sharedTimeout = 2 * time.Second

// sharedKey is where addr's answer lives in the shared backend: the
// address with its domain in lower case (cacheKey), under a prefix of
// its own.
func sharedKey(addr string) string { return "callout:" + cacheKey(addr) }

// KV is where a Cache with Shared set keeps its answers: the fleet's
// [ratelimit] backend ("redis" or "postgres"; ratelimit.Backend meets
// it), in which each answer expires with its TTL (Redis's expiry,
// PostgreSQL's sweep of expired rows), so that the answer one node got
// from the primary serves every node.
type KV interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// encodeAnswer is an answer as the shared backend keeps it: "250" for
// accepted, else the refusal as one reply line ("550 5.1.1 text").
func encodeAnswer(reply *smtp.Reply) []byte {
	if reply == nil {
		return []byte("250")
	}
	return []byte(reply.Error())
}

// errBadAnswer is a value in the backend that is no answer of ours.
var errBadAnswer = errors.New("not a callout answer")

// decodeAnswer reads a value encodeAnswer wrote, checked as any reply
// from the network: exactly "250" for accepted, or one line of a 5xx refusal, passed
// through Answer (5.x.x code, clean text, bounded length). Anything else
// is an error, and the cache then has no answer.
func decodeAnswer(v []byte) (reply *smtp.Reply, err error) {
	if string(v) == "250" {
		return nil, nil
	}
	if len(v) > 2*maxText || strings.ContainsAny(string(v), "\r\n") {
		return nil, errBadAnswer
	}
	rep, err := smtpclient.ReadReply(bufio.NewReader(strings.NewReader(string(v) + "\r\n")))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadAnswer, err)
	}
	if !rep.Permanent() {
		return nil, errBadAnswer
	}
	ans, _ := Answer(rep)
	return ans, nil
}

// getShared looks addr up in the shared backend.
func (c *Cache) getShared(addr string) (reply *smtp.Reply, found bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	v, ok, err := c.Shared.Get(ctx, sharedKey(addr))
	if err != nil || !ok {
		return nil, false, err
	}
	rep, err := decodeAnswer(v)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", sharedKey(addr), err)
	}
	return rep, true, nil
}

// putShared stores addr's answer in the shared backend for ttl.
func (c *Cache) putShared(addr string, reply *smtp.Reply, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	return c.Shared.Set(ctx, sharedKey(addr), encodeAnswer(reply), ttl)
}
