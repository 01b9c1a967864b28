package notify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook signatures follow Standard Webhooks 1.0, "Signature scheme", asymmetric
// variant: ed25519 over "{webhook-id}.{webhook-timestamp}.{body}", sent as
// "v1a,<base64 signature>" in the webhook-signature header. The spec prefers
// asymmetric signatures: receivers verify with a public key (whpk_…) and the exchange
// never shares a secret.
//
// Each endpoint has its own key pair (the spec asks for keys unique per endpoint),
// derived from the server's webhook secret, the endpoint's id and a generation that
// rotation advances: the database holds no private key at all, and every server of
// the exchange that has the secret signs alike.

// Header names (Standard Webhooks 1.0, "Webhook headers").
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretSize is the size of the server's webhook secret.
const SecretSize = 32

func signingKey(secret []byte, webhookID string, generation int64) ed25519.PrivateKey {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "dataport webhook signing key v1\n%s\n%d", webhookID, generation)
	return ed25519.NewKeyFromSeed(mac.Sum(nil))
}

// PublicKey renders an endpoint's verification key as Standard Webhooks does: whpk_
// and the base64 of the ed25519 public key.
func PublicKey(pub ed25519.PublicKey) string {
	return "whpk_" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a whpk_ key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whpk_"))
	if err != nil || !strings.HasPrefix(s, "whpk_") || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not a whpk_ ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

func signed(id string, ts int64, body []byte) []byte {
	return append([]byte(id+"."+strconv.FormatInt(ts, 10)+"."), body...)
}

func sign(keys []ed25519.PrivateKey, id string, ts int64, body []byte) string {
	msg := signed(id, ts, body)
	var sigs []string
	for _, k := range keys {
		sigs = append(sigs, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(k, msg)))
	}
	return strings.Join(sigs, " ")
}

// Verify checks a delivery as a receiver should (Standard Webhooks 1.0, "Verifying
// signatures"): one v1a signature in the header verifies under pub over the id,
// timestamp and raw body, and the timestamp is within tolerance of now.
func Verify(pub ed25519.PublicKey, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now", d.Round(time.Second))
	}
	msg := signed(id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1a" {
			continue
		}
		if raw, err := base64.StdEncoding.DecodeString(sig); err == nil && ed25519.Verify(pub, msg, raw) {
			return nil
		}
	}
	return errors.New("no signature verifies")
}
