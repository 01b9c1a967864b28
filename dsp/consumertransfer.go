package dsp

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The Transfer Process Protocol's consumer side (DSP 2025-1, "Transfer Process
// Protocol" and "Transfer Process HTTPS Binding"): a local buyer asks a peer's
// provider for the data of a finalized consumer negotiation's agreement, the
// provider's messages arrive at dataport's callback endpoints, and the data is pulled
// into the exchange's blob store, where the buyer downloads it.
//
//	the buyer (REST)      Request   → POST <peer>/transfers/request               TransferRequestMessage → 201 TransferProcess
//	                      Move      → POST <peer>/transfers/:providerPid/start|completion|suspension|termination
//	the provider (DSP)    POST <callback>/transfers/:consumerPid/start            TransferStartMessage (with a data address)
//	                      POST <callback>/transfers/:consumerPid/completion       TransferCompletionMessage
//	                      POST <callback>/transfers/:consumerPid/suspension       TransferSuspensionMessage
//	                      POST <callback>/transfers/:consumerPid/termination      TransferTerminationMessage
//
// Every move is checked against the state machine before anything else: the buyer's
// with TransferState.Next(Consumer, …) before it is sent, and recorded only once the
// provider acknowledged it; the provider's with TransferState.Next(Provider, …), a
// refusal answered 400 with a TransferError (INVALID_STATE_TRANSITION) naming both
// pids and nothing changed. A callback from anyone but the transfer's peer, or for an
// unknown pid, is answered 404, as the binding requires for both.
//
// The pull. A start message of a pull format (FormatPull, "HttpData-PULL") carries a
// DataAddress: endpointType https://w3id.org/idsa/v4.1/HTTP, the endpoint's URL, and
// the endpoint properties "authorization" (the token) and "authType" ("bearer"). It
// is stored sealed (AES-GCM with Sealer; the transfer's id is the associated
// data, so a sealed address moved to another row does not open) and, once the start
// is acknowledged (the callback answers at once), pulled in the background: GET
// <endpoint> with "Authorization: Bearer <token>". A dataport provider answers with
// its deal's manifest (application/json with a "files" array, delivery.Manifest);
// each file is then fetched from <endpoint>/<path> and its size and SHA-256 verified
// while it streams into the blob store (blob.Store.Put with the expected hash: a file
// that does not match is not stored). Any other answer, a foreign HttpData endpoint's,
// is stored as one file named "data". Transient failures (the provider unreachable, a
// 5xx or 429 answer, a body cut short) are retried with a doubling backoff, Attempts
// times at most. A suspension or termination stops the pull; a restart pulls what is
// still missing, from the new address when the start carries one. A completion does
// not: the data the provider made available is still fetched. A pull that the
// process's end interrupted is resumed by Resume at startup; every step is filed.

// ConsumerTransferPIDPrefix prefixes a consumer transfer's id to make dataport's pid.
const ConsumerTransferPIDPrefix = "urn:dataport:consumer-transfer:"

// EndpointTypeHTTP is the endpoint type of a data address dataport pulls from.
const EndpointTypeHTTP = "https://w3id.org/idsa/v4.1/HTTP"

// DataFileName names the one file of a pull from an endpoint that is not a dataport
// provider's manifest.
const DataFileName = "data"

// Pull states of a consumer transfer.
const (
	PullNone    = ""        // nothing to pull (yet, or a format that is not pulled)
	PullPulling = "pulling" // the background pull runs, or is to be resumed
	PullPulled  = "pulled"  // every file arrived and verified
	PullFailed  = "failed"  // PullError says why; a restart tries again
	PullStopped = "stopped" // a suspension or termination stopped it
)

// ConsumerTransfers serves the consumer's side of transfers: the buyer's requests and
// moves, the provider's callbacks, and the pulls.
type ConsumerTransfers struct {
	Auth  Authenticator
	DB    *store.DB
	Blobs blob.Store
	// Client sends the consumer's messages; Peers gives each peer's address and the
	// credentials its provider issued to this exchange (Peers.Connect).
	Client *Client
	Peers  *Peers
	// Sealer seals data addresses at rest (a key derived from the exchange's secret).
	Sealer *Sealer
	// HTTP fetches the data (nil: a client without an overall timeout, which large files need).
	HTTP *http.Client
	// AutoComplete sends the consumer's completion once every file is pulled and verified.
	AutoComplete bool
	// Attempts bounds the tries of one fetch (default 5); Backoff is the first wait
	// between two (default 1s), doubled after each, 1 minute at most.
	Attempts int
	Backoff  time.Duration
	// MaxFile is the largest file pulled (default 1 TiB).
	MaxFile int64
	Logger  *slog.Logger

	once   sync.Once
	mu     sync.Mutex
	base   context.Context
	stop   context.CancelFunc
	closed bool
	pulls  map[string]*pullRun
	wg     sync.WaitGroup
}

type pullRun struct {
	run    string
	cancel context.CancelFunc
}

// ConsumerTransfer is a transfer as its buyer sees it.
type ConsumerTransfer struct {
	ID            string         `json:"id"`
	ConsumerPID   string         `json:"consumer_pid"`
	ProviderPID   string         `json:"provider_pid"`
	NegotiationID string         `json:"negotiation_id"`
	AgreementID   string         `json:"agreement_id"`
	PeerID        string         `json:"peer_id" doc:"the participant whose connector provides the data"`
	BuyerID       string         `json:"buyer_id"`
	Format        string         `json:"format"`
	State         TransferState  `json:"state" enum:"REQUESTED,STARTED,SUSPENDED,COMPLETED,TERMINATED"`
	Reason        string         `json:"reason,omitempty" doc:"the last suspension's or termination's code and reasons"`
	Moves         []string       `json:"moves" doc:"the consumer's moves the state admits: suspend, start, complete, terminate"`
	PullState     string         `json:"pull_state" enum:",pulling,pulled,failed,stopped"`
	PullError     string         `json:"pull_error,omitempty"`
	Files         []ConsumerFile `json:"files" doc:"the files pulled so far, verified"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// ConsumerFile is a file a transfer pulled: in the blob store at its SHA-256.
type ConsumerFile struct {
	Path      string    `json:"path"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	MediaType string    `json:"media_type,omitempty"`
	PulledAt  time.Time `json:"pulled_at"`
}

// NewConsumerTransfer is the buyer's request.
type NewConsumerTransfer struct {
	NegotiationID string `json:"negotiation_id" maxLength:"100" doc:"a FINALIZED consumer negotiation of the caller's"`
	Format        string `json:"format,omitempty" maxLength:"200" doc:"a format of the dataset's distributions (default HttpData-PULL)"`
}

// MoveReason is what the buyer says with a suspension or termination.
type MoveReason struct {
	Code   string `json:"code,omitempty" maxLength:"100"`
	Reason string `json:"reason,omitempty" maxLength:"1000"`
}

// consumerTransfer is a row of dsp_consumer_transfers.
type consumerTransfer struct {
	ID, ConsumerPID, ProviderPID, NegotiationID, AgreementID string
	PeerID, BuyerID, Format                                  string
	State                                                    TransferState
	Reason, DataAddress, PullRun, PullState, PullError       string
	CreatedAt, UpdatedAt                                     time.Time
}

const consumerTransferColumns = `id, consumer_pid, provider_pid, negotiation_id, agreement_id, peer_id, buyer_id, format, state,
	reason, data_address, pull_run, pull_state, pull_error, created_at, updated_at`

func readConsumerTransfer(tx *store.Tx, where string, arg string) (consumerTransfer, error) {
	var t consumerTransfer
	var state, created, updated string
	err := tx.QueryRow(`SELECT `+consumerTransferColumns+` FROM dsp_consumer_transfers WHERE `+where, arg).Scan(
		&t.ID, &t.ConsumerPID, &t.ProviderPID, &t.NegotiationID, &t.AgreementID, &t.PeerID, &t.BuyerID, &t.Format, &state,
		&t.Reason, &t.DataAddress, &t.PullRun, &t.PullState, &t.PullError, &created, &updated)
	t.State = TransferState(state)
	t.CreatedAt, _ = store.ParseTime(created)
	t.UpdatedAt, _ = store.ParseTime(updated)
	return t, err
}

// IsPullFormat reports whether a transfer of format is pulled by the consumer from
// the data address the provider's start message carries.
func IsPullFormat(format string) bool { return strings.HasSuffix(format, "-PULL") }

func (s *ConsumerTransfers) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *ConsumerTransfers) init() {
	s.once.Do(func() {
		s.base, s.stop = context.WithCancel(context.Background())
		s.pulls = map[string]*pullRun{}
	})
}

// addressBound is the associated data a transfer's data address is sealed with: a
// sealed address copied into another row does not open.
func addressBound(id string) string { return "dsp_consumer_transfers:" + id }

// sealAddress seals a data address for transfer id's row.
func (s *ConsumerTransfers) sealAddress(id string, a *DataAddress) (string, error) {
	if s.Sealer == nil {
		return "", dataport.Errorf("dsp.sealAddress", dataport.KindUnavailable, "this exchange has no DSP sealing key: a data address cannot be kept")
	}
	plain, err := json.Marshal(a)
	if err != nil {
		return "", dataport.Internal("dsp.sealAddress", err)
	}
	return s.Sealer.Seal(string(plain), addressBound(id)), nil
}

// openAddress opens transfer id's sealed data address.
func (s *ConsumerTransfers) openAddress(id, sealed string) (*DataAddress, error) {
	const op = "dsp.openAddress"
	if s.Sealer == nil {
		return nil, dataport.Errorf(op, dataport.KindUnavailable, "this exchange has no DSP sealing key: the data address cannot be opened")
	}
	plain, err := s.Sealer.Open(sealed, addressBound(id))
	if err != nil {
		return nil, err
	}
	var a DataAddress
	if err := json.Unmarshal([]byte(plain), &a); err != nil {
		return nil, dataport.Internal(op, err)
	}
	return &a, nil
}

// checkPullAddress checks that dataport can pull from a: the HTTP endpoint type, an
// absolute http(s) endpoint, and a bearer token if any authorization is given.
func checkPullAddress(a *DataAddress) error {
	var probs dataport.Problems
	if a.EndpointType != EndpointTypeHTTP {
		probs.Add("dataAddress.endpointType", "%s: the endpoint dataport pulls from over HTTP", EndpointTypeHTTP)
	}
	if u, err := url.Parse(a.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		probs.Add("dataAddress.endpoint", "the absolute http(s) URL of the data")
	}
	if t, ok := a.Property("authType"); ok && !strings.EqualFold(t, "bearer") {
		probs.Add("dataAddress.endpointProperties", "authType bearer: the token of the authorization property, sent as a Bearer token")
	}
	return probs.Err("dsp.checkPullAddress")
}

// Request sends the buyer's transfer request for negotiation n.NegotiationID's
// agreement to the peer's provider, and records the transfer once the provider
// answered with its TransferProcess. callback is dataport's callback address
// (<root>/dsp/callback). The negotiation must be the caller's and FINALIZED; nothing
// is sent otherwise. A request the provider refuses is KindConflict with its reasons;
// one it cannot be reached for, KindUnavailable; nothing is recorded either way.
func (s *ConsumerTransfers) Request(ctx context.Context, actor dataport.Actor, n NewConsumerTransfer, callback string) (ConsumerTransfer, error) {
	const op = "dsp.ConsumerTransfers.Request"
	if actor.Anonymous() {
		return ConsumerTransfer{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleBuyer) {
		return ConsumerTransfer{}, dataport.Errorf(op, dataport.KindForbidden, "a transfer is requested by the buyer of its agreement")
	}
	format := strings.TrimSpace(n.Format)
	if format == "" {
		format = FormatPull
	}
	var probs dataport.Problems
	if strings.TrimSpace(n.NegotiationID) == "" {
		probs.Add("negotiation_id", "the id of a FINALIZED consumer negotiation")
	}
	if u, err := url.Parse(callback); err != nil || !u.IsAbs() {
		return ConsumerTransfer{}, dataport.Internal(op, fmt.Errorf("callback address %q", callback))
	}
	if err := probs.Err(op); err != nil {
		return ConsumerTransfer{}, err
	}
	var t consumerTransfer
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		if err := registry.CheckActive(tx, actor.ParticipantID); err != nil {
			return err
		}
		neg, err := ConsumerNegotiationIn(tx, n.NegotiationID)
		if err == nil && neg.BuyerID != actor.ParticipantID {
			err = dataport.Errorf(op, dataport.KindNotFound, "no consumer negotiation %s", n.NegotiationID)
		}
		if err != nil {
			return err
		}
		if neg.State != NegotiationFinalized || neg.AgreementID == "" {
			return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: fmt.Sprintf("negotiation %s is %s: a transfer needs a FINALIZED agreement", neg.ID, neg.State),
				Fields: []dataport.FieldProblem{{Field: "negotiation_id", Message: "a FINALIZED consumer negotiation"}}}
		}
		t = consumerTransfer{NegotiationID: neg.ID, AgreementID: neg.AgreementID, PeerID: neg.PeerID, BuyerID: neg.BuyerID, Format: format}
		return nil
	})
	if err != nil {
		return ConsumerTransfer{}, err
	}
	if _, err := TransferState("").Next(Consumer, MoveTransferRequest); err != nil {
		return ConsumerTransfer{}, err
	}
	t.ID = dataport.NewID("ctr")
	t.ConsumerPID = ConsumerTransferPIDPrefix + t.ID
	address, client, err := s.connect(ctx, t.PeerID)
	if err != nil {
		return ConsumerTransfer{}, err
	}
	var ack TransferProcess
	msg := &TransferRequestMessage{ConsumerPID: t.ConsumerPID, AgreementID: t.AgreementID, Format: t.Format, CallbackAddress: callback}
	if err := client.Send(ctx, http.MethodPost, address+"/transfers/request", msg, &ack); err != nil {
		return ConsumerTransfer{}, providerRefusal(op, err)
	}
	if ack.ConsumerPID != t.ConsumerPID || strings.TrimSpace(ack.ProviderPID) == "" || ack.State != TransferRequested {
		return ConsumerTransfer{}, dataport.Errorf(op, dataport.KindUnavailable,
			"the provider acknowledged the request with %s/%s in state %s; want our consumer pid, its provider pid and REQUESTED", ack.ConsumerPID, ack.ProviderPID, ack.State)
	}
	t.ProviderPID, t.State = ack.ProviderPID, TransferRequested
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`INSERT INTO dsp_consumer_transfers (id, consumer_pid, provider_pid, negotiation_id, agreement_id, peer_id, buyer_id, format, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`, t.ID, t.ConsumerPID, t.ProviderPID, t.NegotiationID, t.AgreementID, t.PeerID, t.BuyerID, t.Format, string(t.State), now); err != nil {
			return dataport.Internal(op, err)
		}
		return fileConsumerTransfer(tx, actor, "dsp.consumer_transfer_requested", &t, "agreement_id", t.AgreementID, "format", t.Format, "callback_address", callback)
	})
	if err != nil {
		// The provider holds a transfer this exchange has no record of: end it there, so
		// that it does not start one nobody will pull.
		end := &TransferTerminationMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, Code: "CONSUMER_ERROR", Reason: []any{"the consumer could not record the transfer"}}
		if terr := client.Post(context.WithoutCancel(ctx), address+"/transfers/"+url.PathEscape(t.ProviderPID)+"/termination", end); terr != nil {
			s.logger().ErrorContext(ctx, "dsp consumer transfer: terminating an unrecorded transfer", "provider_pid", t.ProviderPID, "error", terr)
		}
		return ConsumerTransfer{}, err
	}
	return s.Get(ctx, actor, t.ID)
}

// connect returns the DSP base address of peer's connector and Client presenting the
// credentials its provider issued to this exchange (Peers.Connect: the peer's owner
// must be active).
func (s *ConsumerTransfers) connect(ctx context.Context, peer string) (string, *Client, error) {
	const op = "dsp.ConsumerTransfers.connect"
	p, c, err := s.Peers.Connect(ctx, s.Client, peer)
	switch dataport.KindOf(err) {
	case dataport.KindNotFound, dataport.KindForbidden:
		return "", nil, &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: "the provider's connector cannot be reached through the exchange: " + dataport.MessageOf(err), Err: err}
	}
	if err != nil {
		return "", nil, err
	}
	return strings.TrimRight(p.Address, "/"), c, nil
}

// Get returns transfer id with its files: its buyer, the operator and regulators.
func (s *ConsumerTransfers) Get(ctx context.Context, actor dataport.Actor, id string) (ConsumerTransfer, error) {
	const op = "dsp.ConsumerTransfers.Get"
	if actor.Anonymous() {
		return ConsumerTransfer{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var out ConsumerTransfer
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		t, err := readConsumerTransfer(tx, `id = $1`, id)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !mayRead(actor, &t) {
			return dataport.Errorf(op, dataport.KindNotFound, "no consumer transfer %s", id)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		out, err = view(tx, &t)
		return err
	})
	return out, err
}

func mayRead(actor dataport.Actor, t *consumerTransfer) bool {
	return actor.ParticipantID == t.BuyerID || actor.Has(dataport.RoleOperator, dataport.RoleRegulator) || actor.IsSystem()
}

// consumerMoves are the consumer's moves as the REST API names them.
var consumerMoves = []struct {
	name string
	move TransferMove
}{{"suspend", MoveTransferSuspension}, {"start", MoveTransferStart}, {"complete", MoveTransferCompletion}, {"terminate", MoveTransferTermination}}

// ConsumerMove returns the transfer move a REST move name (suspend, start, complete,
// terminate) makes.
func ConsumerMove(name string) (TransferMove, bool) {
	for _, m := range consumerMoves {
		if m.name == name {
			return m.move, true
		}
	}
	return "", false
}

func view(tx *store.Tx, t *consumerTransfer) (ConsumerTransfer, error) {
	out := ConsumerTransfer{ID: t.ID, ConsumerPID: t.ConsumerPID, ProviderPID: t.ProviderPID, NegotiationID: t.NegotiationID,
		AgreementID: t.AgreementID, PeerID: t.PeerID, BuyerID: t.BuyerID, Format: t.Format, State: t.State, Reason: t.Reason,
		PullState: t.PullState, PullError: t.PullError, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Moves: []string{}, Files: []ConsumerFile{}}
	for _, m := range consumerMoves {
		if _, err := t.State.Next(Consumer, m.move); err == nil {
			out.Moves = append(out.Moves, m.name)
		}
	}
	rows, err := tx.Query(`SELECT path, sha256, size, media_type, pulled_at FROM dsp_consumer_files WHERE transfer_id = $1 ORDER BY path`, t.ID)
	if err != nil {
		return out, dataport.Internal("dsp.view", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f ConsumerFile
		var at string
		if err := rows.Scan(&f.Path, &f.SHA256, &f.Size, &f.MediaType, &at); err != nil {
			return out, dataport.Internal("dsp.view", err)
		}
		f.PulledAt, _ = store.ParseTime(at)
		out.Files = append(out.Files, f)
	}
	return out, dataport.Wrap("dsp.view", rows.Err())
}

// List returns the caller's transfers, newest first (the operator and regulators:
// everyone's), at most 500.
func (s *ConsumerTransfers) List(ctx context.Context, actor dataport.Actor) ([]ConsumerTransfer, error) {
	const op = "dsp.ConsumerTransfers.List"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	out := []ConsumerTransfer{}
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		everyone := ""
		if actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
			everyone = "all"
		}
		ids, err := tx.Strings(`SELECT id FROM dsp_consumer_transfers WHERE buyer_id = $1 OR $2 = 'all' ORDER BY created_at DESC, id DESC LIMIT 500`,
			actor.ParticipantID, everyone)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			t, err := readConsumerTransfer(tx, `id = $1`, id)
			if err != nil {
				return dataport.Internal(op, err)
			}
			v, err := view(tx, &t)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// Move makes the consumer's move on transfer id: checked with
// TransferState.Next(Consumer, move) first, sent to the provider
// (<peer>/transfers/:providerPid/suspension|start|completion|termination), and only
// once the provider acknowledged it is the state changed and filed
// (dsp.consumer_transfer_sent). A suspension or termination stops the pull; a restart
// pulls what is missing from the address the provider gave. The buyer only (or the
// exchange itself, for AutoComplete).
func (s *ConsumerTransfers) Move(ctx context.Context, actor dataport.Actor, id string, move TransferMove, why MoveReason) (ConsumerTransfer, error) {
	const op = "dsp.ConsumerTransfers.Move"
	if actor.Anonymous() {
		return ConsumerTransfer{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var t consumerTransfer
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		t, err = readConsumerTransfer(tx, `id = $1`, id)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !mayRead(actor, &t) {
			return dataport.Errorf(op, dataport.KindNotFound, "no consumer transfer %s", id)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !actor.IsSystem() && (actor.ParticipantID != t.BuyerID || !actor.Has(dataport.RoleBuyer)) {
			return dataport.Errorf(op, dataport.KindForbidden, "the transfer's buyer makes the consumer's moves")
		}
		return registry.CheckActive(tx, t.BuyerID)
	})
	if err != nil {
		return ConsumerTransfer{}, err
	}
	if _, err := t.State.Next(Consumer, move); err != nil {
		return ConsumerTransfer{}, err
	}
	var msg Message
	var path string
	reason := []any{}
	if why.Reason != "" {
		reason = append(reason, why.Reason)
	}
	switch move {
	case MoveTransferStart:
		msg, path = &TransferStartMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID}, "/start"
	case MoveTransferCompletion:
		msg, path = &TransferCompletionMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID}, "/completion"
	case MoveTransferSuspension:
		msg, path = &TransferSuspensionMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, Code: why.Code, Reason: reason}, "/suspension"
	case MoveTransferTermination:
		msg, path = &TransferTerminationMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, Code: why.Code, Reason: reason}, "/termination"
	default:
		return ConsumerTransfer{}, dataport.Invalid(op, dataport.FieldProblem{Field: "move", Message: "suspend, start, complete or terminate"})
	}
	address, client, err := s.connect(ctx, t.PeerID)
	if err != nil {
		return ConsumerTransfer{}, err
	}
	if err := client.Post(ctx, address+"/transfers/"+url.PathEscape(t.ProviderPID)+path, msg); err != nil {
		return ConsumerTransfer{}, providerRefusal(op, err)
	}
	before := t.State
	err = s.DB.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		cur, err := readConsumerTransfer(tx, `id = $1`, id)
		if err != nil {
			return dataport.Internal(op, err)
		}
		// The provider may have moved the transfer while the message was under way; the
		// consumer's move still stands if the state reached admits it.
		next, err := cur.State.Next(Consumer, move)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		t = cur
		return s.transition(tx, actor, &t, next, move, Consumer, "dsp.consumer_transfer_sent", terminationReason("", why.Code, reason), nil)
	})
	if err != nil {
		s.logger().ErrorContext(ctx, "dsp consumer transfer: recording an acknowledged move", "id", id, "move", move, "from", before, "error", err)
		return ConsumerTransfer{}, err
	}
	s.effects(&t)
	return s.Get(ctx, actor, id)
}

// transition moves t to next by who's move, in tx: the state, the reason of a
// suspension or termination, and the pull — a start (with addr, the provider's new
// data address, if any) begins a new run of a pull format's pull, a suspension or
// termination stops the running one — and files it as event.
func (s *ConsumerTransfers) transition(tx *store.Tx, actor dataport.Actor, t *consumerTransfer, next TransferState, move TransferMove, who Role, event, reason string, addr *DataAddress) error {
	const op = "dsp.ConsumerTransfers.transition"
	prev := t.State
	t.State = next
	if move == MoveTransferSuspension || move == MoveTransferTermination {
		t.Reason = reason
		if t.PullState == PullPulling {
			t.PullState = PullStopped
		}
		t.PullRun = ""
	}
	if addr != nil {
		sealed, err := s.sealAddress(t.ID, addr)
		if err != nil {
			return err
		}
		t.DataAddress = sealed
	}
	// A start pulls: the first, a restart with a new address (it may hold more), and a
	// restart of a pull that did not finish; what was pulled before is not fetched again.
	if move == MoveTransferStart && IsPullFormat(t.Format) && t.DataAddress != "" && (addr != nil || t.PullState != PullPulled) {
		t.PullRun, t.PullState, t.PullError = dataport.NewID("run"), PullPulling, ""
	}
	res, err := tx.Exec(`UPDATE dsp_consumer_transfers SET state = $3, reason = $4, data_address = $5, pull_run = $6, pull_state = $7, pull_error = $8,
		updated_at = $9 WHERE id = $1 AND state = $2`, t.ID, string(prev), string(t.State), t.Reason, t.DataAddress, t.PullRun, t.PullState, t.PullError,
		store.FormatTime(tx.Now()))
	if err != nil {
		return dataport.Internal(op, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return dataport.Errorf(op, dataport.KindConflict, "the transfer moved on meanwhile; it is no longer %s", prev)
	}
	kv := []string{"move", string(move), "by", string(who), "from", string(prev)}
	if reason != "" {
		kv = append(kv, "reason", reason)
	}
	if addr != nil {
		if u, err := url.Parse(addr.Endpoint); err == nil {
			kv = append(kv, "data_host", u.Host) // never the token
		}
	}
	return fileConsumerTransfer(tx, actor, event, t, kv...)
}

// effects starts or stops t's pull after the transaction that moved it committed.
func (s *ConsumerTransfers) effects(t *consumerTransfer) {
	switch {
	case t.PullState == PullPulling && t.PullRun != "":
		s.startPull(t.ID, t.PullRun)
	case t.State == TransferSuspended || t.State == TransferTerminated:
		s.stopPull(t.ID)
	}
}

func fileConsumerTransfer(tx *store.Tx, actor dataport.Actor, event string, t *consumerTransfer, kv ...string) error {
	payload := map[string]any{"transfer_id": t.ID, "consumer_pid": t.ConsumerPID, "provider_pid": t.ProviderPID,
		"negotiation_id": t.NegotiationID, "state": string(t.State), "pull_state": t.PullState}
	for i := 0; i+1 < len(kv); i += 2 {
		payload[kv[i]] = kv[i+1]
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{t.ID, t.BuyerID, t.PeerID}, Payload: payload})
	return err
}

// The provider's messages, at dataport's callback address.

// ServeStart answers POST <callback>/transfers/:consumerPid/start: the provider
// starts the transfer (for a pull, with the data address) or restarts a suspended one
// (with a new address, or none to keep the last). The pull begins once it is
// acknowledged.
func (s *ConsumerTransfers) ServeStart(w http.ResponseWriter, r *http.Request) {
	var msg TransferStartMessage
	s.providerMove(w, r, &msg, func(t *consumerTransfer) (*DataAddress, error) {
		if msg.DataAddress == nil {
			if IsPullFormat(t.Format) && t.DataAddress == "" {
				return nil, dataport.Invalid("dsp.ServeStart", dataport.FieldProblem{Field: "dataAddress",
					Message: "the address to pull a " + t.Format + " transfer from (endpointType " + EndpointTypeHTTP + ", endpoint, authorization and authType bearer)"})
			}
			return nil, nil
		}
		if IsPullFormat(t.Format) {
			if err := checkPullAddress(msg.DataAddress); err != nil {
				return nil, err
			}
		}
		return msg.DataAddress, nil
	})
}

// ServeCompletion answers POST <callback>/transfers/:consumerPid/completion.
func (s *ConsumerTransfers) ServeCompletion(w http.ResponseWriter, r *http.Request) {
	var msg TransferCompletionMessage
	s.providerMove(w, r, &msg, nil)
}

// ServeSuspension answers POST <callback>/transfers/:consumerPid/suspension: the pull stops.
func (s *ConsumerTransfers) ServeSuspension(w http.ResponseWriter, r *http.Request) {
	var msg TransferSuspensionMessage
	s.providerMove(w, r, &msg, nil)
}

// ServeTermination answers POST <callback>/transfers/:consumerPid/termination: the pull stops.
func (s *ConsumerTransfers) ServeTermination(w http.ResponseWriter, r *http.Request) {
	var msg TransferTerminationMessage
	s.providerMove(w, r, &msg, nil)
}

// providerMove is a provider's message on one of dataport's transfers, checked in the
// binding's order: the caller authenticated and the transfer's peer (404 otherwise,
// as for an unknown pid), the message valid, its pids the transfer's, its move one the
// state admits from the provider (400 with a TransferError otherwise, nothing
// changed); then the move recorded and filed (dsp.consumer_transfer_received) in one
// transaction, and acknowledged with the TransferProcess.
func (s *ConsumerTransfers) providerMove(w http.ResponseWriter, r *http.Request, msg Message, check func(*consumerTransfer) (*DataAddress, error)) {
	const op = "dsp.ConsumerTransfers.providerMove"
	pid := r.PathValue("consumerPid")
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, "", pid, err)
		return
	}
	var t consumerTransfer
	err = s.DB.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		t, err = readConsumerTransfer(tx, `consumer_pid = $1`, pid)
		if errors.Is(err, sql.ErrNoRows) || err == nil && t.PeerID != actor.ParticipantID {
			return dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		}
		return dataport.Wrap(op, err)
	})
	if err != nil {
		s.fail(w, r, "", pid, err)
		return
	}
	if err := ReadMessage(r, msg); err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	provider, consumer := PIDsOf(msg)
	if err := samePIDs(op, provider, consumer, t.ProviderPID, t.ConsumerPID); err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	move, err := TransferMoveOf(msg)
	if err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	if _, err := t.State.Next(Provider, move); err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	var addr *DataAddress
	if check != nil {
		if addr, err = check(&t); err != nil {
			s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
			return
		}
	}
	reason := ""
	switch m := msg.(type) {
	case *TransferSuspensionMessage:
		reason = terminationReason("suspended by the provider", m.Code, m.Reason)
	case *TransferTerminationMessage:
		reason = terminationReason("terminated by the provider", m.Code, m.Reason)
	}
	err = s.DB.Write(r.Context(), func(tx *store.Tx) error {
		if err := registry.CheckActive(tx, actor.ParticipantID); err != nil {
			return err
		}
		cur, err := readConsumerTransfer(tx, `id = $1`, t.ID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		next, err := cur.State.Next(Provider, move)
		if err != nil {
			return err
		}
		t = cur
		return s.transition(tx, actor, &t, next, move, Provider, "dsp.consumer_transfer_received", reason, addr)
	})
	if err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	s.effects(&t)
	if err := WriteMessage(w, http.StatusOK, &TransferProcess{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, State: t.State}); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp consumer transfer acknowledgement", "error", err)
	}
}

func (s *ConsumerTransfers) fail(w http.ResponseWriter, r *http.Request, providerPID, consumerPID string, err error) {
	if StatusOf(err) >= 500 {
		s.logger().ErrorContext(r.Context(), "dsp consumer transfer", "error", err)
	}
	if werr := WriteError(w, TransferProcessProtocol, providerPID, consumerPID, err); werr != nil {
		s.logger().ErrorContext(r.Context(), "dsp consumer transfer error message", "error", werr)
	}
}

// OpenFile opens a file transfer id pulled, for its buyer to download: the file's
// record (its SHA-256 is the ETag) and the blob.
func (s *ConsumerTransfers) OpenFile(ctx context.Context, actor dataport.Actor, id, path string) (ConsumerFile, blob.Object, error) {
	const op = "dsp.ConsumerTransfers.OpenFile"
	if actor.Anonymous() {
		return ConsumerFile{}, nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var f ConsumerFile
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		t, err := readConsumerTransfer(tx, `id = $1`, id)
		// The data is the buyer's: the operator and regulators see the files' hashes in
		// the transfer, not their content.
		if errors.Is(err, sql.ErrNoRows) || err == nil && actor.ParticipantID != t.BuyerID {
			return dataport.Errorf(op, dataport.KindNotFound, "no consumer transfer %s", id)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if err := registry.CheckActive(tx, t.BuyerID); err != nil {
			return err
		}
		var at string
		err = tx.QueryRow(`SELECT path, sha256, size, media_type, pulled_at FROM dsp_consumer_files WHERE transfer_id = $1 AND path = $2`, id, path).
			Scan(&f.Path, &f.SHA256, &f.Size, &f.MediaType, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "transfer %s pulled no file %s", id, path)
		}
		f.PulledAt, _ = store.ParseTime(at)
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return ConsumerFile{}, nil, err
	}
	o, err := s.Blobs.Open(ctx, f.SHA256)
	if err != nil {
		return ConsumerFile{}, nil, dataport.Wrap(op, err)
	}
	return f, o, nil
}

// Resume restarts the pulls that the end of the process interrupted (pull state
// pulling), and, with AutoComplete, sends the completion of transfers pulled whole
// whose completion was not sent. The API server's process calls it at startup.
func (s *ConsumerTransfers) Resume(ctx context.Context) error {
	const op = "dsp.ConsumerTransfers.Resume"
	type pending struct{ id, run, pull string }
	var todo []pending
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT id, pull_run, pull_state FROM dsp_consumer_transfers
			WHERE (pull_state = $1 AND state IN ($3, $4)) OR (pull_state = $2 AND state = $3) ORDER BY created_at`,
			PullPulling, PullPulled, string(TransferStarted), string(TransferCompleted))
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.id, &p.run, &p.pull); err != nil {
				return dataport.Internal(op, err)
			}
			todo = append(todo, p)
		}
		return dataport.Wrap(op, rows.Err())
	})
	if err != nil {
		return err
	}
	for _, p := range todo {
		switch {
		case p.pull == PullPulling:
			s.startPull(p.id, p.run)
		case s.AutoComplete:
			s.goAutoComplete(p.id)
		}
	}
	return nil
}

// Close stops the pulls under way (they resume at the next start) and waits for them.
func (s *ConsumerTransfers) Close() {
	s.init()
	s.mu.Lock()
	s.closed = true
	s.stop()
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *ConsumerTransfers) startPull(id, run string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if p := s.pulls[id]; p != nil {
		if p.run == run {
			return // already running
		}
		p.cancel()
	}
	ctx, cancel := context.WithCancel(s.base)
	p := &pullRun{run: run, cancel: cancel}
	s.pulls[id] = p
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			cancel()
			s.mu.Lock()
			if s.pulls[id] == p {
				delete(s.pulls, id)
			}
			s.mu.Unlock()
		}()
		s.pull(ctx, id, run)
	}()
}

func (s *ConsumerTransfers) stopPull(id string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pulls[id]; p != nil {
		p.cancel()
		delete(s.pulls, id)
	}
}

func (s *ConsumerTransfers) goAutoComplete(id string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.autoComplete(s.base, id)
	}()
}

// errSuperseded ends a pull whose run is no longer the transfer's: stopped by a
// suspension or termination, or replaced by a restart's.
var errSuperseded = errors.New("the pull run was superseded")

// pull runs transfer id's pull run: from the stored data address, the manifest's files
// (or the one body) not pulled yet, each verified and recorded; then the pull state,
// filed, and with AutoComplete the consumer's completion.
func (s *ConsumerTransfers) pull(ctx context.Context, id, run string) {
	log := s.logger().With("transfer", id, "run", run)
	var t consumerTransfer
	var have map[string]ConsumerFile
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = readConsumerTransfer(tx, `id = $1`, id); err != nil {
			return err
		}
		if !t.current(run) {
			return errSuperseded
		}
		have, err = pulledFiles(tx, id)
		return err
	})
	if errors.Is(err, errSuperseded) || ctx.Err() != nil {
		return
	}
	if err == nil {
		err = s.fetch(ctx, &t, have)
	}
	if ctx.Err() != nil || errors.Is(err, errSuperseded) {
		return // stopped, superseded or shut down: the next run (or Resume) takes over
	}
	werr := s.DB.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		cur, rerr := readConsumerTransfer(tx, `id = $1`, id)
		if rerr != nil {
			return dataport.Internal("dsp.pull", rerr)
		}
		if !cur.current(run) {
			return errSuperseded
		}
		t = cur
		state, event, kv := PullPulled, "dsp.consumer_transfer_pulled", []string{}
		if err != nil {
			state, event = PullFailed, "dsp.consumer_transfer_pull_failed"
			t.PullError = pullError(err)
			kv = append(kv, "error", t.PullError)
		} else {
			t.PullError = ""
			all, ferr := pulledFiles(tx, id)
			if ferr != nil {
				return ferr
			}
			listed, _ := json.Marshal(filedFiles(all))
			kv = append(kv, "files", string(listed), "count", fmt.Sprint(len(all)))
		}
		t.PullState = state
		if _, err := tx.Exec(`UPDATE dsp_consumer_transfers SET pull_state = $2, pull_error = $3, updated_at = $4 WHERE id = $1`,
			id, t.PullState, t.PullError, store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal("dsp.pull", err)
		}
		return fileConsumerTransfer(tx, dataport.System, event, &t, kv...)
	})
	switch {
	case errors.Is(werr, errSuperseded):
		return
	case werr != nil:
		log.Error("dsp consumer transfer: recording the pull", "error", werr)
		return
	case err != nil:
		log.Warn("dsp consumer transfer: the pull failed", "error", err)
		return
	}
	if s.AutoComplete {
		s.autoComplete(ctx, id)
	}
}

// current reports whether run is the transfer's pull run and the transfer may still be pulled.
func (t *consumerTransfer) current(run string) bool {
	return t.PullRun == run && t.PullState == PullPulling && (t.State == TransferStarted || t.State == TransferCompleted)
}

// filedFiles lists the files of a pull for its filing: path, SHA-256 and size, at most
// 200 (a filing's entry is bounded; each file has its own filing besides).
func filedFiles(all map[string]ConsumerFile) []map[string]any {
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := []map[string]any{}
	for _, p := range paths {
		if len(out) == 200 {
			break
		}
		f := all[p]
		out = append(out, map[string]any{"path": f.Path, "sha256": f.SHA256, "size": f.Size})
	}
	return out
}

func pullError(err error) string {
	msg := dataport.MessageOf(err)
	for _, f := range dataport.FieldsOf(err) {
		msg += "; " + f.Field + ": " + f.Message
	}
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return msg
}

// autoComplete sends the consumer's completion of a transfer pulled whole, as the
// exchange; a transfer its state does not let complete (the provider completed or
// terminated it meanwhile) is left as it is.
func (s *ConsumerTransfers) autoComplete(ctx context.Context, id string) {
	_, err := s.Move(context.WithoutCancel(ctx), dataport.System, id, MoveTransferCompletion, MoveReason{})
	if err != nil && dataport.KindOf(err) != dataport.KindConflict {
		s.logger().Error("dsp consumer transfer: completing a pulled transfer", "transfer", id, "error", err)
	}
}

// pulledFiles are the files transfer id pulled so far, by path.
func pulledFiles(tx *store.Tx, id string) (map[string]ConsumerFile, error) {
	rows, err := tx.Query(`SELECT path, sha256, size, media_type FROM dsp_consumer_files WHERE transfer_id = $1`, id)
	if err != nil {
		return nil, dataport.Internal("dsp.pulledFiles", err)
	}
	defer rows.Close()
	out := map[string]ConsumerFile{}
	for rows.Next() {
		var f ConsumerFile
		if err := rows.Scan(&f.Path, &f.SHA256, &f.Size, &f.MediaType); err != nil {
			return nil, dataport.Internal("dsp.pulledFiles", err)
		}
		out[f.Path] = f
	}
	return out, dataport.Wrap("dsp.pulledFiles", rows.Err())
}

// maxManifest bounds a manifest read into memory; a JSON body larger than that is data.
const maxManifest = 32 << 20

// fetch pulls what t's data address holds and have lacks: the manifest's files, or
// the endpoint's body as the one file "data", each verified and recorded as it arrives.
func (s *ConsumerTransfers) fetch(ctx context.Context, t *consumerTransfer, have map[string]ConsumerFile) error {
	const op = "dsp.ConsumerTransfers.fetch"
	addr, err := s.openAddress(t.ID, t.DataAddress)
	if err != nil {
		return err
	}
	token, _ := addr.Property("authorization")
	var manifest []delivery.File
	err = s.retry(ctx, func() error {
		resp, err := s.get(ctx, addr.Endpoint, token)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, files, err := sniffManifest(resp)
		if err != nil || files != nil {
			manifest = files
			return err
		}
		// A foreign HttpData endpoint: its body is the data.
		if _, ok := have[DataFileName]; ok {
			return nil
		}
		info, err := s.put(ctx, body, -1, "")
		if err != nil {
			return err
		}
		return s.record(ctx, t, ConsumerFile{Path: DataFileName, SHA256: info.SHA256, Size: info.Size, MediaType: resp.Header.Get("Content-Type")})
	})
	if err != nil || manifest == nil {
		return err
	}
	if err := s.checkManifest(manifest); err != nil {
		return err
	}
	base, err := url.Parse(addr.Endpoint)
	if err != nil {
		return dataport.Wrap(op, err)
	}
	for _, f := range manifest {
		if got, ok := have[f.Path]; ok {
			if got.SHA256 != f.SHA256 {
				return dataport.Errorf(op, dataport.KindInvalid, "the provider's manifest says %s is %s; %s was pulled", f.Path, f.SHA256, got.SHA256)
			}
			continue
		}
		err := s.retry(ctx, func() error {
			resp, err := s.get(ctx, base.JoinPath(strings.Split(f.Path, "/")...).String(), token)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := s.put(ctx, resp.Body, f.Size, f.SHA256); err != nil {
				return &dataport.Error{Op: op, Kind: dataport.KindOf(err), Message: f.Path + ": " + dataport.MessageOf(err), Err: err}
			}
			mt := f.MediaType
			if mt == "" {
				mt = resp.Header.Get("Content-Type")
			}
			return s.record(ctx, t, ConsumerFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size, MediaType: mt})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkManifest checks a provider's manifest before anything is fetched: paths a
// file may have (delivery.ValidPath), each once, SHA-256 addresses, sizes within MaxFile.
func (s *ConsumerTransfers) checkManifest(files []delivery.File) error {
	var probs dataport.Problems
	seen := map[string]bool{}
	for i, f := range files {
		at := fmt.Sprintf("manifest.files[%d]", i)
		if !delivery.ValidPath(f.Path) || seen[f.Path] {
			probs.Add(at+".path", "a relative path, once in the manifest")
		}
		seen[f.Path] = true
		if !blob.ValidAddress(f.SHA256) {
			probs.Add(at+".sha256", "64 lower-case hex digits")
		}
		if f.Size < 0 || f.Size > s.maxFile() {
			probs.Add(at+".size", "between 0 and %d bytes", s.maxFile())
		}
	}
	if err := probs.Err("dsp.checkManifest"); err != nil {
		return &dataport.Error{Op: "dsp.checkManifest", Kind: dataport.KindInvalid, Message: "the provider's manifest is not one dataport can pull", Fields: dataport.FieldsOf(err)}
	}
	return nil
}

// sniffManifest reads a dataport provider's manifest from an answer that is one
// (application/json with a "files" array); any other answer is data, returned as the
// body to store (what was read of it first included).
func sniffManifest(resp *http.Response) (io.Reader, []delivery.File, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" {
		return resp.Body, nil, nil
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, nil, &dataport.Error{Op: "dsp.sniffManifest", Kind: dataport.KindUnavailable, Message: "the provider's answer was cut short", Err: err}
	}
	body := io.MultiReader(bytes.NewReader(head), resp.Body)
	if len(head) > maxManifest {
		return body, nil, nil
	}
	var m struct {
		Files *[]delivery.File `json:"files"`
	}
	if json.Unmarshal(head, &m) != nil || m.Files == nil {
		return body, nil, nil
	}
	return nil, *m.Files, nil
}

func (s *ConsumerTransfers) maxFile() int64 {
	if s.MaxFile > 0 {
		return s.MaxFile
	}
	return 1 << 40
}

// get fetches target with the provider's token. A provider that cannot be reached, or
// answers 5xx, 408 or 429, is KindUnavailable (retried); a refused token KindForbidden,
// any other answer but 200 KindInvalid.
func (s *ConsumerTransfers) get(ctx context.Context, target, token string) (*http.Response, error) {
	const op = "dsp.ConsumerTransfers.get"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "dataAddress.endpoint", Message: err.Error()})
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := s.HTTP
	if hc == nil {
		hc = pullClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the data endpoint could not be reached", Err: err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	kind := dataport.KindInvalid
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		kind = dataport.KindUnavailable
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		kind = dataport.KindForbidden
	}
	return nil, dataport.Errorf(op, kind, "the data endpoint answered %d", resp.StatusCode)
}

// pullClient fetches data: no overall timeout (a file may be large), but a bound on
// the wait for an answer's headers.
var pullClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ResponseHeaderTimeout: time.Minute,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
}}

// put streams r into the blob store, verifying it: at most size bytes and the SHA-256
// sum when given (a file that does not match is not stored: blob.Store.Put), exactly
// size bytes. A body that breaks off is KindUnavailable, to be fetched again.
func (s *ConsumerTransfers) put(ctx context.Context, r io.Reader, size int64, sum string) (blob.Info, error) {
	const op = "dsp.ConsumerTransfers.put"
	limit := size
	if limit < 0 {
		limit = s.maxFile()
	}
	br := &bodyReader{r: r}
	info, err := s.Blobs.Put(ctx, br, limit, sum)
	if err != nil {
		if br.err != nil && ctx.Err() == nil {
			return blob.Info{}, &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the data was cut short", Err: br.err}
		}
		return blob.Info{}, dataport.Wrap(op, err)
	}
	if size >= 0 && info.Size != size {
		return blob.Info{}, dataport.Errorf(op, dataport.KindInvalid, "%d bytes arrived; the manifest says %d", info.Size, size)
	}
	return info, nil
}

// bodyReader remembers a read error other than the end of the body.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// retry calls fn until it succeeds or fails for good: a KindUnavailable failure is
// tried again after a wait that doubles each time (Backoff, then up to a minute),
// Attempts times in all.
func (s *ConsumerTransfers) retry(ctx context.Context, fn func() error) error {
	wait, attempts := s.Backoff, s.Attempts
	if wait <= 0 {
		wait = time.Second
	}
	if attempts <= 0 {
		attempts = 5
	}
	for i := 1; ; i++ {
		err := fn()
		if err == nil || dataport.KindOf(err) != dataport.KindUnavailable || i >= attempts || ctx.Err() != nil {
			return err
		}
		s.logger().Info("dsp consumer transfer: retrying a fetch", "attempt", i, "wait", wait, "error", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

// errPulledBefore ends the transaction of a file already recorded, which changes nothing.
var errPulledBefore = errors.New("the file was recorded before")

// record lists a verified file of t's pull, and files it (dsp.consumer_transfer_file_pulled).
func (s *ConsumerTransfers) record(ctx context.Context, t *consumerTransfer, f ConsumerFile) error {
	const op = "dsp.ConsumerTransfers.record"
	err := s.DB.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM dsp_consumer_files WHERE transfer_id = $1 AND path = $2`, t.ID, f.Path).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			return errPulledBefore
		}
		if _, err := tx.Exec(`INSERT INTO dsp_consumer_files (transfer_id, path, sha256, size, media_type, pulled_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, f.Path, f.SHA256, f.Size, f.MediaType, store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal(op, err)
		}
		return fileConsumerTransfer(tx, dataport.System, "dsp.consumer_transfer_file_pulled", t, "path", f.Path, "sha256", f.SHA256, "size", fmt.Sprint(f.Size))
	})
	if errors.Is(err, errPulledBefore) {
		return nil
	}
	return err
}
