package dsp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// The Transfer Process Protocol's provider side (DSP 2025-1, "Transfer Process
// Protocol" and "Transfer Process HTTPS Binding"), over the exchange's deals and
// deliveries (doc.go, "Transfers are deliveries"):
//
//	POST <base>/transfers/request                   TransferRequestMessage → 201 TransferProcess
//	GET  <base>/transfers/:providerPid              → 200 TransferProcess
//	POST <base>/transfers/:providerPid/start        TransferStartMessage (the consumer's restart) → 200
//	POST <base>/transfers/:providerPid/completion   TransferCompletionMessage → 200
//	POST <base>/transfers/:providerPid/suspension   TransferSuspensionMessage → 200
//	POST <base>/transfers/:providerPid/termination  TransferTerminationMessage → 200
//
// The 200 answers carry the TransferProcess as it now is. A message that fails its
// schema or the endpoint's rules, or that the transfer's state does not admit, is
// answered 400 with a TransferError and changes nothing; an unknown transfer, and
// another participant's, 404.
//
// The provider's moves (start, suspension, completion, termination) are the
// supplier's or its agent's, made through the REST API (Move), or dataport's own
// start of a pull (AutoStart). Send then posts the message of each to the consumer's
// callback address: <callback>/transfers/:consumerPid/start, …/suspension,
// …/completion, …/termination. The state the consumer was told is kept beside the
// state (told); a message that could not be delivered leaves told behind, and
// SendOwed, run periodically, sends what is owed.
//
// The data plane. A pull's start message carries a data address (DataAddress):
// the endpoint <root><base>/data/:providerPid (path-escaped) with the endpoint
// properties "authorization", a bearer token, and "authType" "bearer". The token is
// 32 random bytes, base64url; only its SHA-256 is stored, with its expiry
// (TokenTTL). Authorize tells which deal and buyer a request to that address is
// for; the API server serves the deal's manifest there and its files below it,
// each download a delivery to the buyer as the REST download's.

// TransferPIDPrefix prefixes the id dataport gives a transfer to make its provider pid.
const TransferPIDPrefix = "urn:dataport:transfer:"

// DefaultTokenTTL is how long a pull token works when TransferService.TokenTTL is 0.
const DefaultTokenTTL = time.Hour

// Codes of the provider's suspension and termination messages (implementation-specific,
// as the specification leaves them).
const (
	CodeSuspendedByProvider  = "SUSPENDED_BY_PROVIDER"
	CodeTerminatedByProvider = "TERMINATED_BY_PROVIDER"
)

// TransferService serves the transfer endpoints and sends the provider's messages.
// Use it by pointer: it serialises the sending of each transfer's messages.
type TransferService struct {
	Auth   Authenticator
	DB     *store.DB
	Trade  *trade.Service
	Client *Client
	// Peers finds the credentials for a consumer's callback address; nil: none.
	Peers PeerCredentials
	// Path is the protocol's base path, the one the version metadata advertises
	// ("/dsp"); the data addresses are under it, at Path + "/data/".
	Path string
	// Root is the connector's public URL ("https://exchange.example"); empty, the
	// transfer request's own scheme and host, as CatalogService does.
	Root string
	// AutoStart starts a pull transfer as soon as its request is acknowledged, as
	// dataport itself: what users expect of a connector's data plane. Off, the
	// supplier (or its agent) starts it through the REST API.
	AutoStart bool
	// TokenTTL is how long a pull token works (DefaultTokenTTL when 0).
	TokenTTL time.Duration
	// Backoff is how long SendOwed waits after a failed post before it tries that
	// transfer again, doubled with each further failure up to an hour; 0: every call.
	Backoff time.Duration
	Logger  *slog.Logger

	sending [64]sync.Mutex // one sender per transfer at a time, by a hash of its pid
}

// Transfer is a transfer process as the REST API shows it to the deal's parties and
// the operator.
type Transfer struct {
	ProviderPID     string        `json:"provider_pid"`
	ConsumerPID     string        `json:"consumer_pid"`
	ConsumerID      string        `json:"consumer_id" doc:"the consumer's participant: the deal's buyer"`
	DealID          string        `json:"deal_id"`
	AgreementID     string        `json:"agreement_id" doc:"the agreement's @id the request named"`
	Format          string        `json:"format" doc:"the distribution format asked for: HttpData-PULL"`
	CallbackAddress string        `json:"callback_address" doc:"where the provider's messages go"`
	Endpoint        string        `json:"endpoint,omitempty" doc:"the data address's endpoint"`
	State           TransferState `json:"state" enum:"REQUESTED,STARTED,SUSPENDED,COMPLETED,TERMINATED"`
	Told            TransferState `json:"told" enum:"REQUESTED,STARTED,SUSPENDED,COMPLETED,TERMINATED" doc:"the state the consumer was last told: behind state while a message is owed"`
	Reason          string        `json:"reason,omitempty" doc:"the last suspension's or termination's reason"`
	TokenExpiresAt  time.Time     `json:"token_expires_at,omitzero" doc:"when the pull token in force expires"`
	SendAttempts    int           `json:"send_attempts,omitempty" doc:"failed posts of the message owed"`
	SendError       string        `json:"send_error,omitempty" doc:"why the last post failed"`
	NextAttemptAt   time.Time     `json:"next_attempt_at,omitzero" doc:"when the message owed is posted again"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

// transfer is a row of dsp_transfers.
type transfer struct {
	Transfer
	tokenSHA256 string
}

const transferColumns = `provider_pid, consumer_pid, consumer_id, callback_address, deal_id, format, endpoint, state, told, reason,
	token_sha256, token_expires_at, send_attempts, send_after, send_error, created_at, updated_at`

func readTransfer(tx *store.Tx, pid string) (transfer, error) {
	var t transfer
	var state, told, expires, after, created, updated string
	err := tx.QueryRow(`SELECT `+transferColumns+` FROM dsp_transfers WHERE provider_pid = $1`, pid).Scan(&t.ProviderPID, &t.ConsumerPID,
		&t.ConsumerID, &t.CallbackAddress, &t.DealID, &t.Format, &t.Endpoint, &state, &told, &t.Reason, &t.tokenSHA256, &expires,
		&t.SendAttempts, &after, &t.SendError, &created, &updated)
	if err != nil {
		return transfer{}, err
	}
	t.fill(state, told, expires, after, created, updated)
	return t, nil
}

func (t *transfer) fill(state, told, expires, after, created, updated string) {
	t.State, t.Told, t.AgreementID = TransferState(state), TransferState(told), DealIRIPrefix+t.DealID
	t.TokenExpiresAt, _ = store.ParseTime(expires)
	t.NextAttemptAt, _ = store.ParseTime(after)
	t.CreatedAt, _ = store.ParseTime(created)
	t.UpdatedAt, _ = store.ParseTime(updated)
	if t.Told == t.State {
		t.NextAttemptAt = time.Time{}
	}
}

func fileTransfer(tx *store.Tx, actor dataport.Actor, event string, t *transfer, kv ...string) error {
	payload := map[string]any{"provider_pid": t.ProviderPID, "consumer_pid": t.ConsumerPID, "deal_id": t.DealID,
		"format": t.Format, "callback_address": t.CallbackAddress, "state": string(t.State), "told": string(t.Told)}
	for i := 0; i+1 < len(kv); i += 2 {
		payload[kv[i]] = kv[i+1]
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{t.DealID, t.ConsumerID}, Payload: payload})
	return err
}

func (s *TransferService) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *TransferService) ttl() time.Duration {
	if s.TokenTTL <= 0 {
		return DefaultTokenTTL
	}
	return s.TokenTTL
}

func (s *TransferService) fail(w http.ResponseWriter, r *http.Request, providerPID, consumerPID string, err error) {
	if StatusOf(err) >= 500 {
		s.logger().ErrorContext(r.Context(), "dsp transfer", "error", err)
	}
	if werr := WriteError(w, TransferProcessProtocol, providerPID, consumerPID, err); werr != nil {
		s.logger().ErrorContext(r.Context(), "dsp transfer error message", "error", werr)
	}
}

func (s *TransferService) write(w http.ResponseWriter, r *http.Request, status int, m Message) {
	if err := WriteMessage(w, status, m); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp transfer message", "error", err)
	}
}

// ServeRequest answers POST <base>/transfers/request: a new transfer of an agreement,
// the agreement being a finalized deal of the caller's as buyer. The request names
// the agreement's @id (DealIRIPrefix and the deal's id), the format of the deal's
// delivery (FormatPull for a file delivery, the only one dataport transfers), a
// consumer pid the caller has not used for another transfer and an absolute http(s)
// callback address. The transfer does not end the deal: a deal may have several.
// With AutoStart, a pull is started once the request is acknowledged.
func (s *TransferService) ServeRequest(w http.ResponseWriter, r *http.Request) {
	const op = "dsp.TransferService.ServeRequest"
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	var msg TransferRequestMessage
	if err := ReadMessage(r, &msg); err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	var probs dataport.Problems
	if strings.TrimSpace(msg.ConsumerPID) == "" {
		probs.Add("consumerPid", "the consumer's id of the transfer")
	}
	if !absoluteHTTP(msg.CallbackAddress) {
		probs.Add("callbackAddress", "the consumer's absolute http(s) URL, where the provider's messages go")
	}
	dealID, ok := strings.CutPrefix(msg.AgreementID, DealIRIPrefix)
	if !ok || dealID == "" {
		probs.Add("agreementId", "the @id of an agreement of this consumer's, %s<deal id>, as the agreement message carried it", DealIRIPrefix)
	}
	if msg.DataAddress != nil {
		probs.Add("dataAddress", "absent: a data address is the consumer's for a push format; %s is pulled from the address the start message carries", FormatPull)
	}
	if err := probs.Err(op); err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	if _, err := TransferState("").Next(Consumer, MoveTransferRequest); err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	if !actor.Has(dataport.RoleBuyer) {
		// As the negotiations answer a caller without the buyer role: not authorised, not found.
		s.fail(w, r, "", msg.ConsumerPID, dataport.Errorf(op, dataport.KindForbidden, "a transfer is the buyer's"))
		return
	}
	d, err := s.agreement(r.Context(), actor, dealID, msg.Format)
	if err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	t := transfer{Transfer: Transfer{ProviderPID: TransferPIDPrefix + dataport.NewID("xfr"), ConsumerPID: msg.ConsumerPID,
		ConsumerID: actor.ParticipantID, DealID: d.ID, AgreementID: msg.AgreementID, Format: msg.Format,
		CallbackAddress: strings.TrimRight(msg.CallbackAddress, "/"), State: TransferRequested, Told: TransferRequested}}
	// The data address is where the consumer reached dataport (CatalogService.root),
	// kept with the transfer so that a start sent later, by the periodic sender, names it.
	t.Endpoint = (&CatalogService{Root: s.Root}).root(r) + s.Path + "/data/" + url.PathEscape(t.ProviderPID)
	err = s.DB.Write(r.Context(), func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM dsp_transfers WHERE consumer_id = $1 AND consumer_pid = $2`, actor.ParticipantID, msg.ConsumerPID).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "consumerPid", Message: "already names another transfer of this consumer"})
		}
		now := store.FormatTime(tx.Now())
		_, err := tx.Exec(`INSERT INTO dsp_transfers (provider_pid, consumer_pid, consumer_id, callback_address, deal_id, format, endpoint,
			state, told, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9)`, t.ProviderPID, t.ConsumerPID,
			t.ConsumerID, t.CallbackAddress, t.DealID, t.Format, t.Endpoint, string(t.State), now)
		if store.IsUniqueViolation(err) { // the same consumer pid, in a request that raced this one
			return dataport.Invalid(op, dataport.FieldProblem{Field: "consumerPid", Message: "already names another transfer of this consumer"})
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		return fileTransfer(tx, actor, "dsp.transfer_requested", &t)
	})
	if err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	if err := acknowledge(w, http.StatusCreated, &TransferProcess{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, State: t.State}); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp transfer message", "error", err)
		return
	}
	if s.AutoStart && t.Format == FormatPull {
		// The consumer holds the acknowledgement whole (acknowledge sent it with its
		// length); the start follows it, posted to the callback address. A start that
		// cannot be posted is owed, and SendOwed sends it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), autoStartTimeout)
		defer cancel()
		if _, err := s.Move(ctx, dataport.System, t.ProviderPID, MoveTransferStart, ""); err != nil {
			s.logger().ErrorContext(ctx, "dsp transfer: starting a pull", "pid", t.ProviderPID, "error", err)
			return
		}
		if err := s.Send(ctx, t.ProviderPID); err != nil {
			s.logger().WarnContext(ctx, "dsp transfer: posting the start", "pid", t.ProviderPID, "error", err)
		}
	}
}

// autoStartTimeout bounds starting a pull and posting its start message.
const autoStartTimeout = 30 * time.Second

// acknowledge answers as WriteMessage does, with the body's length, and sends the
// answer at once: the consumer holds the whole acknowledgement before dataport goes
// on to start the transfer, whose start message the consumer then receives at its
// callback address.
func acknowledge(w http.ResponseWriter, status int, m Message) error {
	body, err := Encode(m)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// agreement checks a transfer request's agreement: a deal of the caller's as buyer,
// FINALIZED, delivered as files, asked for in FormatPull. Anything else is a field
// problem of the request (400).
func (s *TransferService) agreement(ctx context.Context, actor dataport.Actor, dealID, format string) (trade.Deal, error) {
	const op = "dsp.TransferService.agreement"
	d, err := s.Trade.Get(ctx, actor, dealID)
	if dataport.KindOf(err) == dataport.KindNotFound || err == nil && d.BuyerID != actor.ParticipantID {
		return trade.Deal{}, dataport.Invalid(op, dataport.FieldProblem{Field: "agreementId", Message: "no agreement " + DealIRIPrefix + dealID + " of this consumer's"})
	}
	if err != nil {
		return trade.Deal{}, err
	}
	var probs dataport.Problems
	if NegotiationState(d.State) != NegotiationFinalized {
		probs.Add("agreementId", "the agreement is not final: its negotiation is %s, and a transfer needs it FINALIZED", d.State)
	}
	switch {
	case d.DeliveryMode != "file":
		probs.Add("format", "dataport transfers file deliveries (%s); the agreement's delivery mode is %s (%s), served through the exchange itself",
			FormatPull, d.DeliveryMode, FormatOf(d.DeliveryMode))
	case format != FormatOf(d.DeliveryMode):
		probs.Add("format", "%s, the agreement's distribution", FormatOf(d.DeliveryMode))
	}
	return d, probs.Err(op)
}

func absoluteHTTP(address string) bool {
	u, err := url.Parse(address)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// ServeGet answers GET <base>/transfers/:providerPid.
func (s *TransferService) ServeGet(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("providerPid")
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	t, err := s.lookup(r.Context(), actor, pid)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	s.write(w, r, http.StatusOK, &TransferProcess{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, State: t.State})
}

// ServeStart answers POST <base>/transfers/:providerPid/start: the consumer's restart
// of a suspended transfer (only the provider starts a requested one). A pull's token
// works again, its expiry renewed: the consumer's start message carries no address
// and the answer is the process, so the consumer pulls with the token it holds.
func (s *TransferService) ServeStart(w http.ResponseWriter, r *http.Request) {
	s.consumerMove(w, r, &TransferStartMessage{})
}

// ServeCompletion answers POST <base>/transfers/:providerPid/completion: the
// consumer's completion, which is its confirmation of delivery (trade.ConfirmDelivery:
// the escrow released, the certificate issued) while the deal's money is still held;
// when it was released already (delivery.Complete does when every file of the deal
// went out whole) or the acceptance window passed, the completion is recorded only.
func (s *TransferService) ServeCompletion(w http.ResponseWriter, r *http.Request) {
	s.consumerMove(w, r, &TransferCompletionMessage{})
}

// ServeSuspension answers POST <base>/transfers/:providerPid/suspension: the token is
// refused until the transfer is started again.
func (s *TransferService) ServeSuspension(w http.ResponseWriter, r *http.Request) {
	s.consumerMove(w, r, &TransferSuspensionMessage{})
}

// ServeTermination answers POST <base>/transfers/:providerPid/termination: the token
// is revoked. The deal goes on: its entitlement is the deal's, not the transfer's.
func (s *TransferService) ServeTermination(w http.ResponseWriter, r *http.Request) {
	s.consumerMove(w, r, &TransferTerminationMessage{})
}

// transferPIDs is what consumerMove reads of a message: its pids, code and reasons.
func transferPIDs(m Message) (provider, consumer, code string, reason []any) {
	provider, consumer = PIDsOf(m)
	switch m := m.(type) {
	case *TransferSuspensionMessage:
		return provider, consumer, m.Code, m.Reason
	case *TransferTerminationMessage:
		return provider, consumer, m.Code, m.Reason
	}
	return provider, consumer, "", nil
}

// consumerMove is a consumer's message on an existing transfer, checked in this order:
// the caller authenticated and the transfer its own (404), the message valid (400),
// its pids those of the path's transfer (400), its move one the state admits from the
// consumer (400 INVALID_STATE_TRANSITION); then the move is made, and the state the
// consumer now knows recorded.
func (s *TransferService) consumerMove(w http.ResponseWriter, r *http.Request, msg Message) {
	const op = "dsp.TransferService"
	pid := r.PathValue("providerPid")
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	t, err := s.lookup(r.Context(), actor, pid)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	if err := ReadMessage(r, msg); err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	provider, consumer, code, reason := transferPIDs(msg)
	if err := samePIDs(op, provider, consumer, t.ProviderPID, t.ConsumerPID); err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	move, err := TransferMoveOf(msg)
	if err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	to, err := t.State.Next(Consumer, move)
	if err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	var kv []string
	if to == TransferCompleted {
		settled, err := s.confirm(r.Context(), actor, &t)
		if err != nil {
			s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
			return
		}
		kv = append(kv, "delivery", settled)
	}
	why := ""
	if move == MoveTransferSuspension || move == MoveTransferTermination {
		why = terminationReason("by the consumer's connector", code, reason)
	}
	after, err := s.apply(r.Context(), actor, t.ProviderPID, Consumer, move, why, "dsp.transfer_received", kv...)
	if err != nil {
		s.fail(w, r, t.ProviderPID, t.ConsumerPID, err)
		return
	}
	s.write(w, r, http.StatusOK, &TransferProcess{ProviderPID: after.ProviderPID, ConsumerPID: after.ConsumerPID, State: after.State})
}

// confirm is the consumer's completion as its confirmation of delivery: the escrow
// released to the supplier and the certificate issued (trade.ConfirmDelivery, as the
// buyer) while the deal's money is held. It returns what became of the money:
// "confirmed" now, or how it was settled before ("released", "refunded").
func (s *TransferService) confirm(ctx context.Context, actor dataport.Actor, t *transfer) (string, error) {
	d, err := s.Trade.Get(ctx, actor, t.DealID)
	if err != nil {
		return "", err
	}
	if d.Settled != "held" {
		return d.Settled, nil
	}
	_, err = s.Trade.ConfirmDelivery(ctx, actor, t.DealID, "")
	if dataport.KindOf(err) == dataport.KindConflict {
		// Settled meanwhile (the last file's delivery, the acceptance window), or paused
		// (a party suspended): only the first is a completion to record.
		if now, gerr := s.Trade.Get(ctx, actor, t.DealID); gerr == nil && now.Settled != "held" {
			return now.Settled, nil
		}
	}
	if err != nil {
		return "", err
	}
	return "confirmed", nil
}

// lookup finds the caller's transfer pid: not found when unknown or another
// participant's.
func (s *TransferService) lookup(ctx context.Context, actor dataport.Actor, pid string) (transfer, error) {
	const op = "dsp.TransferService.lookup"
	var t transfer
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		t, err = readTransfer(tx, pid)
		if err == nil && t.ConsumerID != actor.ParticipantID {
			err = sql.ErrNoRows
		}
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		}
		return dataport.Wrap(op, err)
	})
	return t, err
}

// apply makes move by side by on transfer pid in one transaction, checked again
// against the state as it is then, and files it as event: the state, the token
// (revoked on completion and termination; on the provider's start, replaced when the
// start message is sent; renewed on the consumer's restart; kept through a suspension,
// refused while it lasts), and, for a consumer's move, the state the consumer knows.
func (s *TransferService) apply(ctx context.Context, actor dataport.Actor, pid string, by Role, move TransferMove, reason, event string, kv ...string) (transfer, error) {
	const op = "dsp.TransferService.apply"
	var t transfer
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if t, err = readTransfer(tx, pid); errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		} else if err != nil {
			return dataport.Internal(op, err)
		}
		to, err := t.State.Next(by, move)
		if err != nil {
			return err
		}
		now := tx.Now()
		switch {
		case to.Terminal(), by == Provider && move == MoveTransferStart:
			t.tokenSHA256, t.TokenExpiresAt = "", time.Time{}
		case by == Consumer && move == MoveTransferStart && t.tokenSHA256 != "":
			t.TokenExpiresAt = now.Add(s.ttl())
		}
		if reason != "" {
			t.Reason = reason
		}
		t.State = to
		if by == Consumer {
			t.Told, t.SendAttempts, t.SendError, t.NextAttemptAt = to, 0, "", time.Time{}
		}
		if _, err := tx.Exec(`UPDATE dsp_transfers SET state = $2, told = $3, reason = $4, token_sha256 = $5, token_expires_at = $6,
			send_attempts = $7, send_after = $8, send_error = $9, updated_at = $10 WHERE provider_pid = $1`, t.ProviderPID, string(t.State),
			string(t.Told), t.Reason, t.tokenSHA256, store.FormatTime(t.TokenExpiresAt), t.SendAttempts, store.FormatTime(t.NextAttemptAt),
			t.SendError, store.FormatTime(now)); err != nil {
			return dataport.Internal(op, err)
		}
		t.UpdatedAt = now
		return fileTransfer(tx, actor, event, &t, append([]string{"move", string(move), "by", string(by)}, kv...)...)
	})
	return t, err
}

// Move is the provider's move on transfer pid (start, suspension, completion or
// termination), made by the deal's supplier or its agent through the REST API, or by
// dataport itself (dataport.System, AutoStart). It records the move (dsp.transfer_moved)
// and leaves the message owed: Send posts it. A move the state does not admit is a
// conflict; the consumer, the operator and regulators may see the transfer but not
// move it (forbidden); anyone else does not find it.
func (s *TransferService) Move(ctx context.Context, actor dataport.Actor, pid string, move TransferMove, reason string) (Transfer, error) {
	const op = "dsp.TransferService.Move"
	if move == MoveTransferRequest {
		return Transfer{}, dataport.Errorf(op, dataport.KindInvalid, "a transfer request is the consumer's")
	}
	t, err := s.visible(ctx, actor, pid)
	if err != nil {
		return Transfer{}, err
	}
	if !actor.IsSystem() {
		d, err := s.Trade.Get(ctx, actor, t.DealID)
		if err != nil {
			return Transfer{}, err
		}
		provider := actor.ParticipantID == d.SupplierID || d.AgentID != "" && actor.ParticipantID == d.AgentID
		if !provider || !actor.Has(dataport.RoleSupplier, dataport.RoleAgent) {
			return Transfer{}, dataport.Errorf(op, dataport.KindForbidden, "%s is the provider's move: the deal's supplier's or its agent's", move)
		}
	}
	if move == MoveTransferSuspension || move == MoveTransferTermination {
		reason = strings.TrimSpace(reason)
		if len(reason) > 1000 {
			return Transfer{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "at most 1000 characters"})
		}
	} else if reason != "" {
		return Transfer{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "only a suspension or a termination says why"})
	}
	after, err := s.apply(ctx, actor, pid, Provider, move, reason, "dsp.transfer_moved")
	return after.Transfer, err
}

// visible reads transfer pid for actor: the deal's parties, the operator and
// regulators see it (trade.Get decides); anyone else does not find it.
func (s *TransferService) visible(ctx context.Context, actor dataport.Actor, pid string) (transfer, error) {
	const op = "dsp.TransferService.Get"
	var t transfer
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = readTransfer(tx, pid); errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		}
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return transfer{}, err
	}
	if _, err := s.Trade.Get(ctx, actor, t.DealID); err != nil {
		if dataport.KindOf(err) == dataport.KindNotFound {
			return transfer{}, dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		}
		return transfer{}, err
	}
	return t, nil
}

// Get returns transfer pid to the deal's parties, the operator and regulators.
func (s *TransferService) Get(ctx context.Context, actor dataport.Actor, pid string) (Transfer, error) {
	t, err := s.visible(ctx, actor, pid)
	return t.Transfer, err
}

// OfDeal lists deal dealID's transfers, oldest first, to the deal's parties, the
// operator and regulators.
func (s *TransferService) OfDeal(ctx context.Context, actor dataport.Actor, dealID string) ([]Transfer, error) {
	const op = "dsp.TransferService.OfDeal"
	if _, err := s.Trade.Get(ctx, actor, dealID); err != nil {
		return nil, err
	}
	out := []Transfer{}
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT `+transferColumns+` FROM dsp_transfers WHERE deal_id = $1 ORDER BY created_at, provider_pid`, dealID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var t transfer
			var state, told, expires, after, created, updated string
			if err := rows.Scan(&t.ProviderPID, &t.ConsumerPID, &t.ConsumerID, &t.CallbackAddress, &t.DealID, &t.Format, &t.Endpoint,
				&state, &told, &t.Reason, &t.tokenSHA256, &expires, &t.SendAttempts, &after, &t.SendError, &created, &updated); err != nil {
				return dataport.Internal(op, err)
			}
			t.fill(state, told, expires, after, created, updated)
			out = append(out, t.Transfer)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// owedMove is the provider's message that brings a consumer told told toward state:
// the move to state when told admits it from the provider, else the start the
// consumer missed (a transfer suspended or completed before its start reached the
// consumer is first started, then suspended or completed).
func owedMove(told, state TransferState) TransferMove {
	want := map[TransferState]TransferMove{TransferStarted: MoveTransferStart, TransferSuspended: MoveTransferSuspension,
		TransferCompleted: MoveTransferCompletion, TransferTerminated: MoveTransferTermination}[state]
	if _, err := told.Next(Provider, want); err == nil {
		return want
	}
	return MoveTransferStart
}

func (s *TransferService) lock(pid string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(pid))
	return &s.sending[h.Sum32()%uint32(len(s.sending))]
}

// Send brings the consumer of transfer pid up to date: while the state it was told is
// behind the transfer's, the provider's message of the next move is checked against
// the state machine from the state told, encoded and validated, and posted to the
// consumer's callback address with the credentials Peers gives for the consumer; each
// message delivered is recorded (told, dsp.transfer_sent). A pull's start carries a
// new token. A post that fails leaves told as it was and says when SendOwed tries
// again (Backoff); the error says why.
func (s *TransferService) Send(ctx context.Context, pid string) error {
	const op = "dsp.TransferService.Send"
	mu := s.lock(pid)
	mu.Lock()
	defer mu.Unlock()
	for range 4 { // at most start, then suspension or completion: the loop ends sooner
		var t transfer
		err := s.DB.Read(ctx, func(tx *store.Tx) error {
			var err error
			t, err = readTransfer(tx, pid)
			return err
		})
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no transfer %s", pid)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if t.Told == t.State {
			return nil
		}
		move := owedMove(t.Told, t.State)
		if _, err := t.Told.Next(Provider, move); err != nil {
			return dataport.Internal(op, err) // the machine admits what owedMove chose
		}
		msg, path, err := s.message(ctx, &t, move)
		if err == nil {
			var client *Client
			if client, err = s.client(ctx, t.ConsumerID); err == nil {
				err = client.Post(ctx, t.CallbackAddress+"/transfers/"+url.PathEscape(t.ConsumerPID)+path, msg)
			}
		}
		if err != nil {
			if rerr := s.failed(ctx, &t, err); rerr != nil {
				s.logger().ErrorContext(ctx, "dsp transfer: recording a failed post", "pid", pid, "error", rerr)
			}
			return dataport.Wrap(op, err)
		}
		if err := s.sent(ctx, &t, move); err != nil {
			return err
		}
	}
	return nil
}

// message builds the provider's message of move for t, and the callback path it
// goes to. A pull's start carries the data address with a new token while the
// transfer is started or suspended (a completed transfer has nothing left to pull).
func (s *TransferService) message(ctx context.Context, t *transfer, move TransferMove) (Message, string, error) {
	base := Context{ContextURL}
	var reason []any
	if t.Reason != "" {
		reason = []any{t.Reason}
	}
	switch move {
	case MoveTransferStart:
		m := &TransferStartMessage{Context: base, ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID}
		if t.Format == FormatPull && (t.State == TransferStarted || t.State == TransferSuspended) {
			token, err := s.issue(ctx, t)
			if err != nil {
				return nil, "", err
			}
			m.DataAddress = &DataAddress{Type: KindDataAddress, EndpointType: EndpointTypeHTTP, Endpoint: t.Endpoint,
				EndpointProperties: []EndpointProperty{{Type: "EndpointProperty", Name: "authorization", Value: token},
					{Type: "EndpointProperty", Name: "authType", Value: "bearer"}}}
		}
		return m, "/start", nil
	case MoveTransferSuspension:
		return &TransferSuspensionMessage{Context: base, ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID,
			Code: CodeSuspendedByProvider, Reason: reason}, "/suspension", nil
	case MoveTransferCompletion:
		return &TransferCompletionMessage{Context: base, ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID}, "/completion", nil
	case MoveTransferTermination:
		return &TransferTerminationMessage{Context: base, ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID,
			Code: CodeTerminatedByProvider, Reason: reason}, "/termination", nil
	}
	return nil, "", dataport.Internal("dsp.TransferService.message", errors.New(string(move)+" is not the provider's message"))
}

// issue makes a new pull token for t and stores its SHA-256 with its expiry in place
// of any before it: 32 random bytes, base64url, shown only in the start message.
func (s *TransferService) issue(ctx context.Context, t *transfer) (string, error) {
	const op = "dsp.TransferService.issue"
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", dataport.Internal(op, err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	err := s.DB.Write(ctx, func(tx *store.Tx) error {
		expires := tx.Now().Add(s.ttl())
		res, err := tx.Exec(`UPDATE dsp_transfers SET token_sha256 = $2, token_expires_at = $3, updated_at = $4
			WHERE provider_pid = $1 AND state IN ('STARTED', 'SUSPENDED')`, t.ProviderPID, tokenSHA256(token), store.FormatTime(expires), store.FormatTime(tx.Now()))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return dataport.Errorf(op, dataport.KindConflict, "transfer %s is no longer started: no token to issue", t.ProviderPID)
		}
		t.TokenExpiresAt = expires
		return fileTransfer(tx, dataport.System, "dsp.transfer_token_issued", t, "expires_at", store.FormatTime(expires))
	})
	return token, err
}

func tokenSHA256(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// client is the callback client with the credentials Peers gives for consumerID.
func (s *TransferService) client(ctx context.Context, consumerID string) (*Client, error) {
	c := s.Client
	if c == nil {
		c = &Client{}
	}
	if s.Peers == nil {
		return c, nil
	}
	creds, err := s.Peers.CredentialsFor(ctx, consumerID)
	if err != nil {
		return nil, err
	}
	return c.With(creds), nil
}

// sent records that the consumer was told move (its state as the provider's machine
// has it), unless the consumer moved meanwhile, and files it.
func (s *TransferService) sent(ctx context.Context, t *transfer, move TransferMove) error {
	const op = "dsp.TransferService.sent"
	told, err := t.Told.Next(Provider, move)
	if err != nil {
		return dataport.Internal(op, err)
	}
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE dsp_transfers SET told = $3, send_attempts = 0, send_after = '', send_error = '', updated_at = $4
			WHERE provider_pid = $1 AND told = $2`, t.ProviderPID, string(t.Told), string(told), store.FormatTime(tx.Now()))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errToldMeanwhile
		}
		t.Told = told
		return fileTransfer(tx, dataport.System, "dsp.transfer_sent", t, "move", string(move))
	})
	if errors.Is(err, errToldMeanwhile) {
		return nil
	}
	return err
}

// errToldMeanwhile rolls back the record of a message sent when the consumer's own
// message told it its state meanwhile: there is nothing to record.
var errToldMeanwhile = errors.New("the consumer was told meanwhile")

// failed records a post that failed: told stays, and SendOwed tries again after the
// backoff. The attempt is bookkeeping about a filed move, not a change of its own (as
// a webhook delivery's attempt is): it is written, not filed.
func (s *TransferService) failed(ctx context.Context, t *transfer, cause error) error {
	msg := dataport.MessageOf(cause)
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return s.DB.WriteDerived(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		after := tx.Now().Add(s.backoff(t.SendAttempts + 1))
		_, err := tx.Exec(`UPDATE dsp_transfers SET send_attempts = send_attempts + 1, send_after = $3, send_error = $4
			WHERE provider_pid = $1 AND told = $2`, t.ProviderPID, string(t.Told), store.FormatTime(after), msg)
		return dataport.Wrap("dsp.TransferService.failed", err)
	})
}

// backoff is how long to wait after the attempts-th failed post.
func (s *TransferService) backoff(attempts int) time.Duration {
	if s.Backoff <= 0 {
		return 0
	}
	d := s.Backoff
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// SendOwed sends what is owed for every transfer whose consumer was told less than
// its state and whose retry is due (Backoff), oldest first, at most 100 a call: after
// a post that failed, and after a move whose message was never tried (the process
// stopped in between). It returns how many transfers it brought up to date, and the
// failures joined.
func (s *TransferService) SendOwed(ctx context.Context) (int, error) {
	const op = "dsp.TransferService.SendOwed"
	var pids []string
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		pids, err = tx.Strings(`SELECT provider_pid FROM dsp_transfers WHERE told <> state AND send_after <= $1
			ORDER BY send_after, updated_at LIMIT 100`, store.FormatTime(tx.Now()))
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return 0, err
	}
	n, errs := 0, []error{}
	for _, pid := range pids {
		if err := s.Send(ctx, pid); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// OwedSender is a side of the protocol that may owe counter-parties messages it
// could not deliver when it moved: SendOwed sends them, and returns how many
// processes it brought up to date and what failed. TransferService is one; the
// negotiations can be another (their told state is dsp_negotiations.state).
type OwedSender interface {
	SendOwed(ctx context.Context) (int, error)
}

// SendOwedEvery runs each sender's SendOwed every interval until ctx ends, logging
// what it sent and what failed: serve runs it, so that a consumer that could not be
// reached when dataport moved hears of the move once it can be.
func SendOwedEvery(ctx context.Context, interval time.Duration, logger *slog.Logger, senders ...OwedSender) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, s := range senders {
			n, err := s.SendOwed(ctx)
			if n > 0 {
				logger.InfoContext(ctx, "dsp: sent owed messages", "processes", n)
			}
			if err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "dsp: sending owed messages", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pull is what a request to a transfer's data address may take: the deal's files,
// delivered to its buyer.
type Pull struct {
	ProviderPID string
	DealID      string
	Buyer       dataport.Actor // the consumer, as the buyer the deliveries are made for
}

// Authorize checks a request to transfer pid's data address: its Authorization is
// "Bearer <token>" with the token the latest start message carried, unexpired, and
// the transfer STARTED. Anything else — no token, a wrong or expired one, a transfer
// requested, suspended, completed or terminated, an unknown pid — is KindUnauthorized,
// and the request gets no byte. The pull's actor is the buyer's, so the entitlement,
// its uses and a suspension of any party apply to every delivery as to a REST download.
func (s *TransferService) Authorize(r *http.Request, pid string) (Pull, error) {
	const op = "dsp.TransferService.Authorize"
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Pull{}, dataport.Errorf(op, dataport.KindUnauthorized, "the data address's token is required: Authorization: Bearer <token>")
	}
	var t transfer
	err := s.DB.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		t, err = readTransfer(tx, pid)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (t.tokenSHA256 == "" ||
			subtle.ConstantTimeCompare([]byte(t.tokenSHA256), []byte(tokenSHA256(token))) != 1) {
			return dataport.Errorf(op, dataport.KindUnauthorized, "the token is not one of this data address")
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !tx.Now().Before(t.TokenExpiresAt) {
			return dataport.Errorf(op, dataport.KindUnauthorized, "the token expired at %s", t.TokenExpiresAt.Format(time.RFC3339))
		}
		if t.State != TransferStarted {
			return dataport.Errorf(op, dataport.KindUnauthorized, "the transfer is %s: its data address serves a STARTED transfer", t.State)
		}
		return nil
	})
	if err != nil {
		return Pull{}, err
	}
	return Pull{ProviderPID: t.ProviderPID, DealID: t.DealID,
		Buyer: dataport.Actor{ParticipantID: t.ConsumerID, KeyID: "dsp-transfer:" + t.ProviderPID, Roles: []dataport.Role{dataport.RoleBuyer}}}, nil
}
