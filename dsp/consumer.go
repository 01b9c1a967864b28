package dsp

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The Contract Negotiation Protocol's consumer side (DSP 2025-1, "Contract
// Negotiation Protocol" and "Contract Negotiation HTTPS Binding"): a local buyer
// negotiates a contract with the provider of a peer (peers.go). The buyer's moves are
// REST calls; each is checked against the consumer's state machine, sent to the
// provider with the peer's credentials, and recorded only once the provider
// acknowledges it:
//
//	request     POST <address>/negotiations/request                              ContractRequestMessage (callbackAddress <root>/dsp/callback) → 201 ContractNegotiation
//	counter     POST <address>/negotiations/:providerPid/request                 ContractRequestMessage
//	accept      POST <address>/negotiations/:providerPid/events                  ContractNegotiationEventMessage ACCEPTED
//	verify      POST <address>/negotiations/:providerPid/agreement/verification  ContractAgreementVerificationMessage
//	terminate   POST <address>/negotiations/:providerPid/termination             ContractNegotiationTerminationMessage
//
// The provider's messages come to the consumer's callback endpoints (the binding's
// consumer paths, under <root>/dsp/callback):
//
//	POST /negotiations/:consumerPid/offers       ContractOfferMessage: the offer is stored
//	POST /negotiations/:consumerPid/agreement    ContractAgreementMessage: the Agreement is stored, with its @id and,
//	                                             when it carries the contract (PropContract), the contract's SHA-256
//	POST /negotiations/:consumerPid/events       ContractNegotiationEventMessage FINALIZED (ACCEPTED is the consumer's: refused)
//	POST /negotiations/:consumerPid/termination  ContractNegotiationTerminationMessage: its code and reasons are the reason
//	POST /negotiations/offers                    a provider-initiated negotiation: refused (ServeInitialOffer says why)
//	GET  /negotiations/:consumerPid              the negotiation as dataport holds it
//
// A callback is checked, before anything changes, in this order: the caller
// authenticated (APIKeys) and the negotiation's peer, else 404, as for an unknown pid
// ("Unauthorized Access"); the message valid (400 INVALID_MESSAGE); its pids those of
// the negotiation (400); its move one the negotiation's state admits from the provider
// (400 INVALID_STATE_TRANSITION). The answer to a refusal is a
// ContractNegotiationError naming both pids, and the negotiation stays as it was.
//
// Every change is filed in its transaction (dsp.consumer_negotiation_requested, _sent
// for the buyer's acknowledged moves, _received for the provider's), with the
// negotiation, the buyer and the peer as subjects and the pids, dataset, agreement id
// and contract hash as payload: when the provider is another dataport, the deal is in
// both exchanges' logs.

// ConsumerNegotiationPIDPrefix prefixes a consumer negotiation's id to make dataport's
// consumer pid.
const ConsumerNegotiationPIDPrefix = "urn:dataport:consumer-negotiation:"

// DefaultMaxCatalogPages bounds the pages of a peer's catalog read for one request.
const DefaultMaxCatalogPages = 20

// ConsumerService is dataport the consumer of contract negotiations: the buyer's moves
// (Go API, called by the REST handlers) and the provider's callbacks (HTTP handlers).
type ConsumerService struct {
	// Auth authenticates the provider connectors' callbacks.
	Auth Authenticator
	DB   *store.DB
	// Peers gives each provider's address and the credentials to present to it.
	Peers *Peers
	// Client sends the consumer's messages (the peer's credentials are added per request).
	Client *Client
	// MaxCatalogPages bounds a remote catalog's pages (DefaultMaxCatalogPages when 0).
	MaxCatalogPages int
	Logger          *slog.Logger
}

// ConsumerNegotiation is a contract negotiation a local buyer runs with a peer's
// provider, as dataport holds it.
type ConsumerNegotiation struct {
	ID             string           `json:"id"`
	ConsumerPID    string           `json:"consumer_pid" doc:"dataport's pid: urn:dataport:consumer-negotiation:<id>"`
	ProviderPID    string           `json:"provider_pid" doc:"the provider's pid, from its answer to the request"`
	PeerID         string           `json:"peer_id" doc:"the participant whose connector is the provider"`
	BuyerID        string           `json:"buyer_id"`
	DatasetID      string           `json:"dataset_id" doc:"the dataset's @id, the offer's target"`
	State          NegotiationState `json:"state" enum:"REQUESTED,OFFERED,ACCEPTED,AGREED,VERIFIED,FINALIZED,TERMINATED"`
	Offer          map[string]any   `json:"offer" doc:"the ODRL offer last on the table: the buyer's request or the provider's offer"`
	Agreement      map[string]any   `json:"agreement,omitempty" doc:"the provider's ODRL Agreement, once agreed; a dataport provider's carries the contract to sign"`
	AgreementID    string           `json:"agreement_id" doc:"the Agreement's @id: what a transfer request names"`
	ContractSHA256 string           `json:"contract_sha256" doc:"the SHA-256 of the contract the Agreement carries, when it carries one"`
	Reason         string           `json:"reason" doc:"why it was terminated"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
}

// NewConsumerNegotiation is a buyer's contract request to a peer's provider.
type NewConsumerNegotiation struct {
	PeerID  string         `json:"peer_id" minLength:"1" maxLength:"100" doc:"the participant whose connector provides the dataset (a registered DSP peer)"`
	Offer   map[string]any `json:"offer" doc:"the ODRL offer as the peer's catalog gave it, with its @id, and its target: the dataset's @id"`
	BuyerID string         `json:"buyer_id,omitempty" maxLength:"100" doc:"the buyer: the caller's participant (the default)"`
}

// VerifySignature is the buyer's Ed25519 signature over the agreement's contract
// (PropContract), which a dataport provider checks; without it the verification is
// bare.
type VerifySignature struct {
	KeyID     string `json:"key_id,omitempty" maxLength:"100" doc:"the id of the buyer's signing key, as the provider's exchange registered it"`
	Signature string `json:"signature,omitempty" maxLength:"200" doc:"the base64 Ed25519 signature over the agreement's contract"`
}

// consumerNegotiation is a row of dsp_consumer_negotiations.
type consumerNegotiation struct {
	ID, ConsumerPID, ProviderPID, PeerID, BuyerID, DatasetID string
	State                                                    NegotiationState
	Offer, Agreement                                         string // JSON
	AgreementID, ContractSHA256, Reason                      string
	CreatedAt, UpdatedAt                                     time.Time
}

const consumerNegotiationColumns = `id, consumer_pid, provider_pid, peer_id, buyer_id, dataset_id, state, offer, agreement, agreement_id, contract_sha256, reason, created_at, updated_at`

func scanConsumerNegotiation(r rowScanner) (consumerNegotiation, error) {
	var n consumerNegotiation
	var state, created, updated string
	err := r.Scan(&n.ID, &n.ConsumerPID, &n.ProviderPID, &n.PeerID, &n.BuyerID, &n.DatasetID, &state, &n.Offer, &n.Agreement,
		&n.AgreementID, &n.ContractSHA256, &n.Reason, &created, &updated)
	n.State = NegotiationState(state)
	n.CreatedAt, _ = store.ParseTime(created)
	n.UpdatedAt, _ = store.ParseTime(updated)
	return n, err
}

func readConsumerNegotiation(tx *store.Tx, op, where, arg string) (consumerNegotiation, error) {
	n, err := scanConsumerNegotiation(tx.QueryRow(`SELECT `+consumerNegotiationColumns+` FROM dsp_consumer_negotiations WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return consumerNegotiation{}, dataport.Errorf(op, dataport.KindNotFound, "no consumer negotiation %s", arg)
	}
	if err != nil {
		return consumerNegotiation{}, dataport.Internal(op, err)
	}
	return n, nil
}

// ConsumerNegotiationIn reads consumer negotiation id in tx, without checking who asks:
// for the consumer's transfers, which need its peer, buyer, state and agreement id.
func ConsumerNegotiationIn(tx *store.Tx, id string) (ConsumerNegotiation, error) {
	n, err := readConsumerNegotiation(tx, "dsp.ConsumerNegotiationIn", `id = $1`, id)
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	return n.view(), nil
}

func (n *consumerNegotiation) view() ConsumerNegotiation {
	v := ConsumerNegotiation{ID: n.ID, ConsumerPID: n.ConsumerPID, ProviderPID: n.ProviderPID, PeerID: n.PeerID, BuyerID: n.BuyerID,
		DatasetID: n.DatasetID, State: n.State, AgreementID: n.AgreementID, ContractSHA256: n.ContractSHA256, Reason: n.Reason,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
	json.Unmarshal([]byte(n.Offer), &v.Offer)
	if n.Agreement != "" {
		json.Unmarshal([]byte(n.Agreement), &v.Agreement)
	}
	return v
}

func (s *ConsumerService) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// mayReadConsumerNegotiation: its buyer, the operator and regulators; others are told
// it does not exist.
func mayReadConsumerNegotiation(actor dataport.Actor, n *consumerNegotiation) bool {
	return actor.ParticipantID == n.BuyerID || actor.Has(dataport.RoleOperator, dataport.RoleRegulator) || actor.IsSystem()
}

// policyOf reads an ODRL policy given as JSON (the REST body's offer).
func policyOf(field string, m map[string]any) (Policy, error) {
	var p Policy
	raw, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil || len(m) == 0 {
		return Policy{}, dataport.Invalid("dsp.policyOf", dataport.FieldProblem{Field: field, Message: "an ODRL offer, as the provider's catalog gave it"})
	}
	return p, nil
}

// checkOffer: the offer a buyer sends names the provider's offer (its @id) and the
// dataset it is of (target: the catalog's offers carry none, the dataset has it).
func checkOffer(op string, offer *Policy) error {
	var probs dataport.Problems
	if strings.TrimSpace(offer.ID) == "" {
		probs.Add("offer.@id", "the offer's @id, as the provider's catalog gave it")
	}
	if strings.TrimSpace(offer.Target) == "" {
		probs.Add("offer.target", "the @id of the dataset the offer is of (a catalog's offers carry none: add the dataset's)")
	}
	if offer.Type == "" {
		offer.Type = TypeOffer
	}
	return probs.Err(op)
}

// encodeProblem turns a message that fails its schema into the buyer's field problems.
func encodeProblem(op string, m Message) error {
	if _, err := Encode(m); err != nil {
		if dataport.KindOf(err) == dataport.KindInvalid {
			e := &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "the message would not be a valid " + m.MessageKind(), Fields: dataport.FieldsOf(err), Err: err}
			if len(e.Fields) == 0 {
				e.Fields = []dataport.FieldProblem{{Field: "offer", Message: dataport.MessageOf(err)}}
			}
			return e
		}
		return dataport.Wrap(op, err)
	}
	return nil
}

// providerRefusal is what the buyer is told when the provider refuses a message or
// cannot be reached: its refusal of an invalid message stays invalid (400) and of a
// move its state does not admit a conflict (409), each with the provider's reasons;
// anything else — unreachable, an unknown pid, credentials it does not accept — is
// the provider's connector not serving this exchange (503).
func providerRefusal(op string, err error) error {
	msg := "the provider refused the message: " + dataport.MessageOf(err)
	switch dataport.KindOf(err) {
	case dataport.KindInvalid:
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: msg, Err: err}
	case dataport.KindConflict:
		return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: msg, Err: err}
	}
	return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the provider's connector did not take the message: " + dataport.MessageOf(err), Err: err}
}

// Request opens a negotiation: the buyer's ContractRequestMessage for offer, sent to
// the peer's provider with callbackAddress callback (<root>/dsp/callback). Only an
// acknowledged request is stored: the provider's 201 answer gives its pid, and the row
// and its filing (dsp.consumer_negotiation_requested) are written in one transaction.
// A request the provider refuses, or that cannot reach it, leaves nothing behind: no
// process exists on either side, and a retry is a new request. Should the row not be
// written, the provider is told the negotiation is terminated, so it holds nothing for
// a negotiation this exchange does not know.
func (s *ConsumerService) Request(ctx context.Context, actor dataport.Actor, n NewConsumerNegotiation, callback string) (ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.Request"
	if actor.Anonymous() {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleBuyer) {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindForbidden, "contract negotiations are requested by buyers")
	}
	if n.BuyerID != "" && n.BuyerID != actor.ParticipantID {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindForbidden, "a buyer negotiates for itself: buyer_id is the caller's participant, %s", actor.ParticipantID)
	}
	offer, err := policyOf("offer", n.Offer)
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	if err := checkOffer(op, &offer); err != nil {
		return ConsumerNegotiation{}, err
	}
	if _, err := NegotiationState("").Next(Consumer, MoveContractRequest); err != nil {
		return ConsumerNegotiation{}, dataport.Wrap(op, err)
	}
	row := consumerNegotiation{ID: dataport.NewID("cneg"), PeerID: n.PeerID, BuyerID: actor.ParticipantID, DatasetID: offer.Target}
	row.ConsumerPID = ConsumerNegotiationPIDPrefix + row.ID
	msg := &ContractRequestMessage{Context: Context{ContextURL}, ConsumerPID: row.ConsumerPID, Offer: offer, CallbackAddress: callback}
	if err := encodeProblem(op, msg); err != nil {
		return ConsumerNegotiation{}, err
	}
	if err := s.DB.Read(ctx, func(tx *store.Tx) error { return registry.MayAct(tx, op, actor) }); err != nil {
		return ConsumerNegotiation{}, err
	}
	peer, client, err := s.Peers.Connect(ctx, s.Client, n.PeerID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return ConsumerNegotiation{}, dataport.Invalid(op, dataport.FieldProblem{Field: "peer_id", Message: dataport.MessageOf(err)})
	}
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	var ack ContractNegotiation
	if err := client.Send(ctx, http.MethodPost, peer.Address+"/negotiations/request", msg, &ack); err != nil {
		return ConsumerNegotiation{}, providerRefusal(op, err)
	}
	// The answer is the negotiation the provider now holds: ours, by its consumer pid,
	// with the provider's pid, REQUESTED (or already TERMINATED, as a dataport provider
	// answers a request its rules deny).
	if ack.ConsumerPID != row.ConsumerPID || strings.TrimSpace(ack.ProviderPID) == "" ||
		(ack.State != NegotiationRequested && ack.State != NegotiationTerminated) {
		if ack.ProviderPID != "" {
			s.abandon(ctx, client, peer, ack.ProviderPID, row.ConsumerPID, "the provider's answer to the request was not the negotiation requested")
		}
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindUnavailable,
			"the provider answered the request with negotiation %q (consumer pid %q, state %s), not the one requested", ack.ProviderPID, ack.ConsumerPID, ack.State)
	}
	row.ProviderPID, row.State = ack.ProviderPID, ack.State
	if row.State == NegotiationTerminated {
		row.Reason = "terminated by the provider on request"
	}
	offerJSON, _ := json.Marshal(offer) // it was encoded above
	row.Offer = string(offerJSON)
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		row.CreatedAt, row.UpdatedAt = tx.Now(), tx.Now()
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`INSERT INTO dsp_consumer_negotiations (id, consumer_pid, provider_pid, peer_id, buyer_id, dataset_id, offer, state, reason, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`, row.ID, row.ConsumerPID, row.ProviderPID, row.PeerID, row.BuyerID, row.DatasetID,
			row.Offer, string(row.State), row.Reason, now); err != nil {
			return dataport.Internal(op, err)
		}
		return fileConsumerNegotiation(tx, actor, "dsp.consumer_negotiation_requested", &row, "offer_id", offer.ID, "callback_address", callback)
	})
	if err != nil {
		s.abandon(ctx, client, peer, row.ProviderPID, row.ConsumerPID, "the consumer could not record the negotiation")
		return ConsumerNegotiation{}, err
	}
	return row.view(), nil
}

// abandon tells the provider that a negotiation this exchange will not pursue is
// terminated; a failure is logged (the provider's own timeouts end it then).
func (s *ConsumerService) abandon(ctx context.Context, client *Client, peer Peer, providerPID, consumerPID, why string) {
	m := &ContractNegotiationTerminationMessage{ProviderPID: providerPID, ConsumerPID: consumerPID, Code: "TERMINATED", Reason: []any{why}}
	if err := client.Post(ctx, peer.Address+"/negotiations/"+url.PathEscape(providerPID)+"/termination", m); err != nil {
		s.logger().ErrorContext(ctx, "dsp consumer negotiation: telling the provider of an abandoned negotiation", "provider_pid", providerPID, "error", err)
	}
}

// Get returns consumer negotiation id: its buyer, the operator and regulators.
func (s *ConsumerService) Get(ctx context.Context, actor dataport.Actor, id string) (ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.Get"
	if actor.Anonymous() {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var n consumerNegotiation
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = readConsumerNegotiation(tx, op, `id = $1`, id)
		if err == nil && !mayReadConsumerNegotiation(actor, &n) {
			err = dataport.Errorf(op, dataport.KindNotFound, "no consumer negotiation %s", id)
		}
		return err
	})
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	return n.view(), nil
}

// List returns consumer negotiations, newest first, at most limit (1 to 200; 50 when
// 0): the caller's own as buyer; every one for the operator and regulators.
func (s *ConsumerService) List(ctx context.Context, actor dataport.Actor, limit int) ([]ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.List"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	out := []ConsumerNegotiation{}
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		q, args := `SELECT `+consumerNegotiationColumns+` FROM dsp_consumer_negotiations WHERE buyer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, []any{actor.ParticipantID, limit}
		if actor.Has(dataport.RoleOperator, dataport.RoleRegulator) || actor.IsSystem() {
			q, args = `SELECT `+consumerNegotiationColumns+` FROM dsp_consumer_negotiations ORDER BY created_at DESC, id DESC LIMIT $1`, []any{limit}
		}
		rows, err := tx.Query(q, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanConsumerNegotiation(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, n.view())
		}
		return dataport.Internal(op, rows.Err())
	})
	return out, err
}

// Accept accepts the provider's latest offer (event ACCEPTED).
func (s *ConsumerService) Accept(ctx context.Context, actor dataport.Actor, id string) (ConsumerNegotiation, error) {
	return s.move(ctx, actor, "dsp.ConsumerService.Accept", id, MoveEventAccepted, func(n *consumerNegotiation) (string, Message, error) {
		return "/events", &ContractNegotiationEventMessage{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, EventType: EventAccepted}, nil
	})
}

// CounterRequest answers the provider's offer with the buyer's counter-offer, which
// becomes the offer on the table once the provider acknowledges it.
func (s *ConsumerService) CounterRequest(ctx context.Context, actor dataport.Actor, id string, offer map[string]any) (ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.CounterRequest"
	p, err := policyOf("offer", offer)
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	if err := checkOffer(op, &p); err != nil {
		return ConsumerNegotiation{}, err
	}
	return s.move(ctx, actor, op, id, MoveContractRequest, func(n *consumerNegotiation) (string, Message, error) {
		if p.Target != n.DatasetID {
			return "", nil, dataport.Invalid(op, dataport.FieldProblem{Field: "offer.target", Message: "the negotiated dataset, " + n.DatasetID})
		}
		raw, _ := json.Marshal(p)
		n.Offer = string(raw)
		return "/request", &ContractRequestMessage{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Offer: p}, nil
	})
}

// Verify verifies the provider's agreement. With sig, the message carries the buyer's
// Ed25519 signature over the agreement's contract and the id of its key
// (PropSigningKey, PropSignature), which a dataport provider checks; nothing here signs
// for the buyer, which holds its own key. Without sig the verification is bare.
func (s *ConsumerService) Verify(ctx context.Context, actor dataport.Actor, id string, sig VerifySignature) (ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.Verify"
	var probs dataport.Problems
	if (sig.KeyID == "") != (sig.Signature == "") {
		probs.Add("signature", "key_id and signature together, or neither (a bare verification)")
	}
	if sig.Signature != "" {
		if b, err := base64.StdEncoding.DecodeString(sig.Signature); err != nil || len(b) != 64 {
			probs.Add("signature", "a base64 Ed25519 signature (64 bytes)")
		}
	}
	if err := probs.Err(op); err != nil {
		return ConsumerNegotiation{}, err
	}
	return s.move(ctx, actor, op, id, MoveAgreementVerification, func(n *consumerNegotiation) (string, Message, error) {
		return "/agreement/verification", &ContractAgreementVerificationMessage{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID,
			SigningKey: sig.KeyID, Signature: sig.Signature}, nil
	})
}

// Terminate ends the negotiation, for reason.
func (s *ConsumerService) Terminate(ctx context.Context, actor dataport.Actor, id, reason string) (ConsumerNegotiation, error) {
	const op = "dsp.ConsumerService.Terminate"
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 1000 {
		return ConsumerNegotiation{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "why the buyer ends the negotiation (at most 1000 bytes)"})
	}
	return s.move(ctx, actor, op, id, MoveNegotiationTermination, func(n *consumerNegotiation) (string, Message, error) {
		n.Reason = reason
		return "/termination", &ContractNegotiationTerminationMessage{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID,
			Code: "TERMINATED", Reason: []any{reason}}, nil
	})
}

// move is one of the buyer's moves: by its buyer (404 for others; the operator, who
// may read it, 403), admitted by the consumer's state machine in the negotiation's
// state (409 otherwise, naming the moves it admits), sent to the provider with the
// peer's credentials, and recorded — state, the offer or reason build set, filed as
// dsp.consumer_negotiation_sent — only when the provider acknowledges it. A refusal
// changes nothing. build makes the message and the path under
// <address>/negotiations/:providerPid, and may change the row it is given.
func (s *ConsumerService) move(ctx context.Context, actor dataport.Actor, op, id string, move NegotiationMove,
	build func(n *consumerNegotiation) (string, Message, error)) (ConsumerNegotiation, error) {
	if actor.Anonymous() {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var n consumerNegotiation
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = readConsumerNegotiation(tx, op, `id = $1`, id)
		if err == nil && !mayReadConsumerNegotiation(actor, &n) {
			err = dataport.Errorf(op, dataport.KindNotFound, "no consumer negotiation %s", id)
		}
		if err != nil {
			return err
		}
		if actor.ParticipantID != n.BuyerID || !actor.Has(dataport.RoleBuyer) {
			return dataport.Errorf(op, dataport.KindForbidden, "the negotiation's buyer makes its moves")
		}
		return registry.MayAct(tx, op, actor)
	})
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	from := n.State
	next, err := from.Next(Consumer, move)
	if err != nil {
		return ConsumerNegotiation{}, dataport.Wrap(op, err)
	}
	path, msg, err := build(&n)
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	if err := encodeProblem(op, msg); err != nil {
		return ConsumerNegotiation{}, err
	}
	peer, client, err := s.Peers.Connect(ctx, s.Client, n.PeerID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindConflict, "the provider's connector is no longer a peer of this exchange: %s", dataport.MessageOf(err))
	}
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	if err := client.Post(ctx, peer.Address+"/negotiations/"+url.PathEscape(n.ProviderPID)+path, msg); err != nil {
		return ConsumerNegotiation{}, providerRefusal(op, err)
	}
	// Acknowledged: recorded whatever happens meanwhile. Should a provider's message
	// have moved the negotiation while this one was on its way, the row keeps that
	// state and the acknowledgement is filed beside it; the buyer is told.
	n.State = next
	var overtaken NegotiationState
	err = s.DB.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE dsp_consumer_negotiations SET state = $2, offer = $3, reason = $4, updated_at = $5 WHERE id = $1 AND state = $6`,
			n.ID, string(n.State), n.Offer, n.Reason, store.FormatTime(tx.Now()), string(from))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if changed, _ := res.RowsAffected(); changed == 0 {
			now, err := readConsumerNegotiation(tx, op, `id = $1`, n.ID)
			if err != nil {
				return err
			}
			overtaken = now.State
			return fileConsumerNegotiation(tx, actor, "dsp.consumer_negotiation_sent", &now, "move", string(move), "overtaken_from", string(from))
		}
		n.UpdatedAt = tx.Now()
		return fileConsumerNegotiation(tx, actor, "dsp.consumer_negotiation_sent", &n, "move", string(move))
	})
	if err != nil {
		return ConsumerNegotiation{}, err
	}
	if overtaken != "" {
		return ConsumerNegotiation{}, dataport.Errorf(op, dataport.KindConflict,
			"the provider acknowledged %s, but its own message moved the negotiation to %s meanwhile", move, overtaken)
	}
	return n.view(), nil
}

func fileConsumerNegotiation(tx *store.Tx, actor dataport.Actor, event string, n *consumerNegotiation, kv ...string) error {
	payload := map[string]any{"id": n.ID, "consumer_pid": n.ConsumerPID, "provider_pid": n.ProviderPID, "peer_id": n.PeerID,
		"buyer_id": n.BuyerID, "dataset_id": n.DatasetID, "state": string(n.State), "agreement_id": n.AgreementID, "contract_sha256": n.ContractSHA256}
	if n.Reason != "" {
		payload["reason"] = n.Reason
	}
	for i := 0; i+1 < len(kv); i += 2 {
		payload[kv[i]] = kv[i+1]
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{n.ID, n.BuyerID, n.PeerID}, Payload: payload})
	return err
}

// The provider's callbacks.

func (s *ConsumerService) fail(w http.ResponseWriter, r *http.Request, providerPID, consumerPID string, err error) {
	if StatusOf(err) >= 500 {
		s.logger().ErrorContext(r.Context(), "dsp consumer negotiation", "error", err)
	}
	if werr := WriteError(w, NegotiationProtocol, providerPID, consumerPID, err); werr != nil {
		s.logger().ErrorContext(r.Context(), "dsp consumer negotiation error message", "error", werr)
	}
}

func (s *ConsumerService) write(w http.ResponseWriter, r *http.Request, status int, m Message) {
	if err := WriteMessage(w, status, m); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp consumer negotiation message", "error", err)
	}
}

// caller finds the negotiation of the path's consumer pid for the authenticated
// connector: not found when the caller is not authenticated, not its peer, or
// suspended, as for an unknown pid.
func (s *ConsumerService) caller(r *http.Request, consumerPID string) (dataport.Actor, consumerNegotiation, error) {
	const op = "dsp.ConsumerService.callback"
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		return dataport.Actor{}, consumerNegotiation{}, err
	}
	var n consumerNegotiation
	err = s.DB.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		n, err = readConsumerNegotiation(tx, op, `consumer_pid = $1`, consumerPID)
		if err == nil && n.PeerID != actor.ParticipantID {
			err = dataport.Errorf(op, dataport.KindNotFound, "no consumer negotiation %s", consumerPID)
		}
		if err != nil {
			return err
		}
		return registry.MayAct(tx, op, actor)
	})
	return actor, n, err
}

// ServeGet answers GET <callback>/negotiations/:consumerPid: the negotiation as this
// consumer holds it, for its provider.
func (s *ConsumerService) ServeGet(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("consumerPid")
	_, n, err := s.caller(r, pid)
	if err != nil {
		s.fail(w, r, "", pid, err)
		return
	}
	s.write(w, r, http.StatusOK, &ContractNegotiation{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: n.State})
}

// ServeOffer answers POST <callback>/negotiations/:consumerPid/offers: the provider's
// (counter-)offer, which becomes the offer on the table.
func (s *ConsumerService) ServeOffer(w http.ResponseWriter, r *http.Request) {
	var msg ContractOfferMessage
	s.providerMove(w, r, &msg, func(n *consumerNegotiation) error {
		if msg.Offer.Target != "" && msg.Offer.Target != n.DatasetID {
			return dataport.Invalid("dsp.ConsumerService.ServeOffer", dataport.FieldProblem{Field: "offer.target", Message: "the negotiated dataset, " + n.DatasetID})
		}
		raw, err := json.Marshal(msg.Offer)
		if err != nil {
			return dataport.Internal("dsp.ConsumerService.ServeOffer", err)
		}
		n.Offer = string(raw)
		return nil
	})
}

// ServeAgreement answers POST <callback>/negotiations/:consumerPid/agreement: the
// Agreement is kept with its @id (what a transfer request names) and, when it carries
// the contract (PropContract, a dataport provider's), the contract's SHA-256, which
// must be the one the Agreement states (PropContractSHA256) if it states one.
func (s *ConsumerService) ServeAgreement(w http.ResponseWriter, r *http.Request) {
	const op = "dsp.ConsumerService.ServeAgreement"
	var msg ContractAgreementMessage
	s.providerMove(w, r, &msg, func(n *consumerNegotiation) error {
		a := msg.Agreement
		var probs dataport.Problems
		if a.Target != n.DatasetID {
			probs.Add("agreement.target", "the negotiated dataset, %s", n.DatasetID)
		}
		sum := ""
		if c, ok := a.Extra[PropContract]; ok {
			doc, isString := c.(string)
			if !isString || doc == "" {
				probs.Add("agreement."+PropContract, "the contract as a string: what the consumer signs")
			} else {
				h := sha256.Sum256([]byte(doc))
				sum = hex.EncodeToString(h[:])
				if stated, ok := a.Extra[PropContractSHA256]; ok && stated != sum {
					probs.Add("agreement."+PropContractSHA256, "the SHA-256 of the agreement's contract, %s", sum)
				}
			}
		}
		if err := probs.Err(op); err != nil {
			return err
		}
		raw, err := json.Marshal(a)
		if err != nil {
			return dataport.Internal(op, err)
		}
		n.Agreement, n.AgreementID, n.ContractSHA256 = string(raw), a.ID, sum
		return nil
	})
}

// ServeEvent answers POST <callback>/negotiations/:consumerPid/events: the provider's
// FINALIZED, after which the negotiation's agreement may be transferred. An ACCEPTED
// event is the consumer's to send, and the state machine refuses it from a provider.
func (s *ConsumerService) ServeEvent(w http.ResponseWriter, r *http.Request) {
	var msg ContractNegotiationEventMessage
	s.providerMove(w, r, &msg, nil)
}

// ServeTermination answers POST <callback>/negotiations/:consumerPid/termination: the
// message's code and reasons are the negotiation's reason.
func (s *ConsumerService) ServeTermination(w http.ResponseWriter, r *http.Request) {
	var msg ContractNegotiationTerminationMessage
	s.providerMove(w, r, &msg, func(n *consumerNegotiation) error {
		n.Reason = terminationReason("terminated by the provider's connector", msg.Code, msg.Reason)
		return nil
	})
}

// ServeInitialOffer answers POST <callback>/negotiations/offers, a provider's offer
// that would open a negotiation ("[*] → OFFERED"). dataport refuses it: a negotiation
// of the exchange begins with a buyer's request — a consumer negotiation has a buyer
// who asked for it, the buyer whose funds, rules and log it engages, and no buyer asked
// for this one. The caller is authenticated first (404 otherwise, as every callback),
// the message read and validated (400 INVALID_MESSAGE when invalid), and a valid one
// refused with 400 and a ContractNegotiationError saying so; nothing is stored.
func (s *ConsumerService) ServeInitialOffer(w http.ResponseWriter, r *http.Request) {
	const op = "dsp.ConsumerService.ServeInitialOffer"
	if _, err := s.Auth.Authenticate(r); err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	var msg ContractOfferMessage
	if err := ReadMessage(r, &msg); err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	s.fail(w, r, msg.ProviderPID, msg.ConsumerPID, dataport.Errorf(op, dataport.KindInvalid,
		"dataport does not take provider-initiated negotiations: a negotiation begins with a buyer's contract request; the buyer requests the offer from the catalog"))
}

// providerMove is a provider's message on a negotiation: checked in the order the
// binding's errors need (caller, process, message, pids, state), then check may refuse
// it (400) or change the row, and the new state is written with a filing
// (dsp.consumer_negotiation_received) in one transaction, on the condition that the
// state is still the one checked; a message that lost that race is refused as not
// admitted.
func (s *ConsumerService) providerMove(w http.ResponseWriter, r *http.Request, msg Message, check func(n *consumerNegotiation) error) {
	const op = "dsp.ConsumerService.callback"
	pid := r.PathValue("consumerPid")
	actor, n, err := s.caller(r, pid)
	if err != nil {
		s.fail(w, r, "", pid, err)
		return
	}
	if err := ReadMessage(r, msg); err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	provider, consumer := PIDsOf(msg)
	if err := samePIDs(op, provider, consumer, n.ProviderPID, n.ConsumerPID); err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	move, err := NegotiationMoveOf(msg)
	if err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	from := n.State
	next, err := from.Next(Provider, move)
	if err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	if check != nil {
		if err := check(&n); err != nil {
			s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
			return
		}
	}
	n.State = next
	err = s.DB.Write(r.Context(), func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE dsp_consumer_negotiations SET state = $2, offer = $3, agreement = $4, agreement_id = $5, contract_sha256 = $6, reason = $7, updated_at = $8
			WHERE id = $1 AND state = $9`, n.ID, string(n.State), n.Offer, n.Agreement, n.AgreementID, n.ContractSHA256, n.Reason, store.FormatTime(tx.Now()), string(from))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if changed, _ := res.RowsAffected(); changed == 0 {
			return dataport.Errorf(op, dataport.KindConflict, "%s arrived as the negotiation left %s: send it again if the state admits it", move, from)
		}
		return fileConsumerNegotiation(tx, actor, "dsp.consumer_negotiation_received", &n, "move", string(move))
	})
	if err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	s.write(w, r, http.StatusOK, &ContractNegotiation{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: n.State})
}
