package dsp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Peers. dataport the consumer talks to another connector — a provider's catalog,
// negotiations and transfers — and dataport the provider posts to a consumer's
// callbacks; both need to know the other connector. A peer (dsp_peers) is that
// connector as the exchange knows it: its owner is a registered participant (the
// protocol's participants are the exchange's: doc.go, "Identity"), whose requests and
// callbacks to dataport authenticate with an API key the exchange issued to it
// (APIKeys); the row adds the connector's DSP base address (what its version
// metadata's path names: https://other.example/dsp) and the token that connector
// issued to this exchange, which dataport presents on every request it sends there
// (BearerToken). The token must be presented, so it cannot be hashed as the keys
// dataport issues are: it is sealed (AES-GCM under a key derived from the exchange's
// secret, the participant's id the associated data, so that a sealed token moved to
// another row does not open) and never shown again.
//
// Two dataport instances peer by each registering the other's exchange as a
// participant, issuing it an API key, and registering a peer with the other's address
// and the key the other issued.

// Sealer seals secrets dataport must present later (a peer's token, a transfer's data
// address) with AES-256-GCM: base64 of nonce and ciphertext. Bound is the associated
// data: the record the secret belongs to, so that a sealed value copied into another
// record does not open.
type Sealer struct{ aead cipher.AEAD }

// NewSealer makes a sealer from a 32-byte key derived from the exchange's secret.
func NewSealer(key []byte) (*Sealer, error) {
	const op = "dsp.NewSealer"
	if len(key) != 32 {
		return nil, dataport.Internal(op, errors.New("a sealing key is 32 bytes"))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal seals plain for the record bound names.
func (s *Sealer) Seal(plain, bound string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), []byte(bound)))
}

// Open opens what Seal sealed for the same record.
func (s *Sealer) Open(sealed, bound string) (string, error) {
	const op = "dsp.Sealer.Open"
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", dataport.Internal(op, errors.New("the sealed value is malformed"))
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(bound))
	if err != nil {
		return "", dataport.Internal(op, errors.New("the sealed value does not open: was the exchange's secret changed?"))
	}
	return string(plain), nil
}

// Peer is another connector this exchange talks to: its owner, a registered
// participant, and its DSP base address. The token it issued to this exchange is
// never shown; HasToken says whether there is one.
type Peer struct {
	ParticipantID string    `json:"participant_id" doc:"the participant that owns the connector: its requests and callbacks authenticate with an API key issued to it"`
	Address       string    `json:"address" doc:"the connector's DSP base URL, e.g. https://other.example/dsp"`
	HasToken      bool      `json:"has_token" doc:"whether the connector issued this exchange a token, which dataport presents as a Bearer token (sealed at rest, never shown)"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// NewPeer registers a peer, or replaces its registration.
type NewPeer struct {
	ParticipantID string `json:"participant_id" minLength:"1" maxLength:"100" doc:"a registered participant: the connector's owner"`
	Address       string `json:"address" minLength:"1" maxLength:"2000" doc:"the connector's DSP base URL (absolute http or https), e.g. https://other.example/dsp"`
	Token         string `json:"token,omitempty" maxLength:"4096" doc:"the token the connector issued to this exchange (for another dataport: an API key it issued to this exchange's participant there); left out, none is presented"`
}

// Peers keeps the exchange's peers (dsp_peers) and gives the credentials to present
// to each (PeerCredentials).
type Peers struct {
	db     *store.DB
	sealer *Sealer // nil: no sealing key, so no token can be kept
}

var _ PeerCredentials = (*Peers)(nil)

// NewPeers keeps peers in db, sealing their tokens with sealKey (32 bytes derived from
// the exchange's secret). Without a key, peers can be registered without a token
// only.
func NewPeers(db *store.DB, sealKey []byte) (*Peers, error) {
	p := &Peers{db: db}
	if len(sealKey) > 0 {
		s, err := NewSealer(sealKey)
		if err != nil {
			return nil, err
		}
		p.sealer = s
	}
	return p, nil
}

// peerBound is the associated data a peer's token is sealed with.
func peerBound(participantID string) string { return "dsp_peers:" + participantID }

// BaseAddress checks a connector's DSP base address — an absolute http(s) URL without
// credentials, query or fragment, where the binding's paths are appended — and returns
// it without a trailing slash.
func BaseAddress(field, address string) (string, error) {
	const op = "dsp.BaseAddress"
	u, err := url.Parse(strings.TrimSpace(address))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", dataport.Invalid(op, dataport.FieldProblem{Field: field,
			Message: "the connector's DSP base address: an absolute http(s) URL without credentials, query or fragment, e.g. https://other.example/dsp"})
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Register registers a peer, or replaces the registration of one (the operator):
// created is false when it existed. A token left out is none: the registration is
// replaced as a whole. Filed as dsp.peer_registered, without the token.
func (p *Peers) Register(ctx context.Context, actor dataport.Actor, n NewPeer) (Peer, bool, error) {
	const op = "dsp.Peers.Register"
	var probs dataport.Problems
	id := strings.TrimSpace(n.ParticipantID)
	if id == "" {
		probs.Add("participant_id", "the participant that owns the connector")
	}
	address, err := BaseAddress("address", n.Address)
	if err != nil {
		probs = append(probs, dataport.FieldsOf(err)...)
	}
	token := strings.TrimSpace(n.Token)
	if strings.ContainsAny(token, " \t\r\n") {
		probs.Add("token", "one token, without spaces (it is sent as a Bearer token)")
	}
	if err := probs.Err(op); err != nil {
		return Peer{}, false, err
	}
	if token != "" && p.sealer == nil {
		return Peer{}, false, dataport.Errorf(op, dataport.KindUnavailable, "this exchange has no DSP sealing key: a peer's token cannot be kept")
	}
	var peer Peer
	var created bool
	err = p.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayManagePeers(tx, op, actor); err != nil {
			return err
		}
		if err := registry.CheckActive(tx, id); dataport.KindOf(err) == dataport.KindNotFound {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "participant_id", Message: "no such participant: register the connector's owner first"})
		} else if err != nil && dataport.KindOf(err) != dataport.KindForbidden { // a suspended owner may be registered; its requests are refused
			return err
		}
		sealed := ""
		if token != "" {
			sealed = p.sealer.Seal(token, peerBound(id))
		}
		prev, err := PeerIn(tx, id)
		switch {
		case dataport.KindOf(err) == dataport.KindNotFound:
			created = true
			peer = Peer{ParticipantID: id, Address: address, HasToken: sealed != "", CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
			if _, err := tx.Exec(`INSERT INTO dsp_peers (participant_id, address, token_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
				id, address, sealed, store.FormatTime(tx.Now())); err != nil {
				return dataport.Internal(op, err)
			}
		case err != nil:
			return err
		default:
			peer = Peer{ParticipantID: id, Address: address, HasToken: sealed != "", CreatedAt: prev.CreatedAt, UpdatedAt: tx.Now()}
			if _, err := tx.Exec(`UPDATE dsp_peers SET address = $2, token_sealed = $3, updated_at = $4 WHERE participant_id = $1`,
				id, address, sealed, store.FormatTime(tx.Now())); err != nil {
				return dataport.Internal(op, err)
			}
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "dsp.peer_registered", Subjects: []string{id},
			Payload: map[string]any{"participant_id": id, "address": address, "has_token": peer.HasToken, "replaced": !created}})
		return err
	})
	return peer, created, err
}

// Remove removes a peer (the operator): dataport no longer sends it anything. Its
// negotiations stay, and its callbacks still authenticate with its participant's keys.
// Filed as dsp.peer_removed.
func (p *Peers) Remove(ctx context.Context, actor dataport.Actor, participantID string) (Peer, error) {
	const op = "dsp.Peers.Remove"
	var peer Peer
	err := p.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayManagePeers(tx, op, actor); err != nil {
			return err
		}
		var err error
		if peer, err = PeerIn(tx, participantID); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM dsp_peers WHERE participant_id = $1`, participantID); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "dsp.peer_removed", Subjects: []string{participantID},
			Payload: map[string]any{"participant_id": participantID, "address": peer.Address}})
		return err
	})
	return peer, err
}

// Get returns a peer (the operator).
func (p *Peers) Get(ctx context.Context, actor dataport.Actor, participantID string) (Peer, error) {
	const op = "dsp.Peers.Get"
	var peer Peer
	err := p.db.Read(ctx, func(tx *store.Tx) error {
		if err := mayManagePeers(tx, op, actor); err != nil {
			return err
		}
		var err error
		peer, err = PeerIn(tx, participantID)
		return err
	})
	return peer, err
}

// List returns every peer, by participant id (the operator).
func (p *Peers) List(ctx context.Context, actor dataport.Actor) ([]Peer, error) {
	const op = "dsp.Peers.List"
	out := []Peer{}
	err := p.db.Read(ctx, func(tx *store.Tx) error {
		if err := mayManagePeers(tx, op, actor); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT participant_id, address, token_sealed, created_at, updated_at FROM dsp_peers ORDER BY participant_id`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			peer, _, err := scanPeer(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, peer)
		}
		return dataport.Internal(op, rows.Err())
	})
	return out, err
}

// mayManagePeers: peers are the operator's to register, read and remove: a peer's
// address is where the exchange sends its participants' requests.
func mayManagePeers(tx *store.Tx, op string, actor dataport.Actor) error {
	if actor.Anonymous() {
		return dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator) {
		return dataport.Errorf(op, dataport.KindForbidden, "the exchange operator manages DSP peers")
	}
	return registry.MayAct(tx, op, actor)
}

type rowScanner interface{ Scan(dest ...any) error }

func scanPeer(r rowScanner) (Peer, string, error) {
	var peer Peer
	var sealed, created, updated string
	if err := r.Scan(&peer.ParticipantID, &peer.Address, &sealed, &created, &updated); err != nil {
		return Peer{}, "", err
	}
	peer.HasToken = sealed != ""
	peer.CreatedAt, _ = store.ParseTime(created)
	peer.UpdatedAt, _ = store.ParseTime(updated)
	return peer, sealed, nil
}

// PeerIn reads the peer of participantID in tx: KindNotFound when there is none.
func PeerIn(tx *store.Tx, participantID string) (Peer, error) {
	peer, _, err := peerIn(tx, participantID)
	return peer, err
}

func peerIn(tx *store.Tx, participantID string) (Peer, string, error) {
	const op = "dsp.PeerIn"
	peer, sealed, err := scanPeer(tx.QueryRow(`SELECT participant_id, address, token_sealed, created_at, updated_at FROM dsp_peers WHERE participant_id = $1`, participantID))
	if errors.Is(err, sql.ErrNoRows) {
		return Peer{}, "", dataport.Errorf(op, dataport.KindNotFound, "no DSP peer %s: the operator registers the connector of a participant as a peer first", participantID)
	}
	if err != nil {
		return Peer{}, "", dataport.Internal(op, err)
	}
	return peer, sealed, nil
}

// CredentialsFor implements PeerCredentials: the token participantID's connector issued
// to this exchange, as a Bearer token; nil when it has no peer or no token.
func (p *Peers) CredentialsFor(ctx context.Context, participantID string) (Credentials, error) {
	var sealed string
	err := p.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		_, sealed, err = peerIn(tx, participantID)
		return err
	})
	if dataport.KindOf(err) == dataport.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p.credentials(participantID, sealed)
}

func (p *Peers) credentials(participantID, sealed string) (Credentials, error) {
	if sealed == "" {
		return nil, nil
	}
	if p.sealer == nil {
		return nil, dataport.Errorf("dsp.Peers.CredentialsFor", dataport.KindUnavailable, "this exchange has no DSP sealing key: peer %s's token cannot be opened", participantID)
	}
	token, err := p.sealer.Open(sealed, peerBound(participantID))
	if err != nil {
		return nil, err
	}
	return BearerToken(token), nil
}

// Connect returns participantID's peer and a copy of base that presents the peer's
// credentials: how every request to a peer leaves. The peer's owner must be active: a
// suspended participant's connector is sent nothing on the exchange's behalf.
func (p *Peers) Connect(ctx context.Context, base *Client, participantID string) (Peer, *Client, error) {
	const op = "dsp.Peers.Connect"
	var peer Peer
	var sealed string
	err := p.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		if peer, sealed, err = peerIn(tx, participantID); err != nil {
			return err
		}
		return registry.CheckActive(tx, participantID)
	})
	if err != nil {
		return Peer{}, nil, dataport.Wrap(op, err)
	}
	creds, err := p.credentials(participantID, sealed)
	if err != nil {
		return Peer{}, nil, err
	}
	if base == nil {
		base = &Client{}
	}
	return peer, base.With(creds), nil
}
