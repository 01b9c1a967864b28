package dsp

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
	"github.com/gowebpki/jcs"
)

// The Contract Negotiation Protocol's provider side (DSP 2025-1, "Contract
// Negotiation HTTPS Binding"), over trade deals (doc.go, "Negotiations are deals"):
//
//	POST <base>/negotiations/request                              ContractRequestMessage → 201 ContractNegotiation
//	GET  <base>/negotiations/:providerPid                         → 200 ContractNegotiation
//	POST <base>/negotiations/:providerPid/request                 ContractRequestMessage (counter) → 200
//	POST <base>/negotiations/:providerPid/events                  ContractNegotiationEventMessage (ACCEPTED) → 200
//	POST <base>/negotiations/:providerPid/agreement/verification  ContractAgreementVerificationMessage → 200
//	POST <base>/negotiations/:providerPid/termination             ContractNegotiationTerminationMessage → 200
//
// The 200 answers carry the ContractNegotiation as it now is. A message that fails
// its schema or the endpoint's rules, or that the negotiation's state does not admit,
// is answered 400 with a ContractNegotiationError and changes nothing; an unknown
// negotiation, and another participant's, 404.
//
// The provider's own moves are the supplier's (or its agent's) trade moves, made
// through the REST API; Notify then posts the message each one means to the
// consumer's callback address (Client): <callback>/negotiations/:consumerPid/offers,
// …/agreement, …/events (FINALIZED), …/termination.

// NegotiationPIDPrefix prefixes a deal's id to make the provider pid of its negotiation.
const NegotiationPIDPrefix = "urn:dataport:negotiation:"

// DealIRIPrefix prefixes a deal's id to make its agreement's @id.
const DealIRIPrefix = "urn:dataport:deal:"

// Extension properties dataport reads in a contract request's offer and writes in
// its own messages (full IRIs in dataport's vocabulary: the protocol's context does
// not define them).
var (
	PropPurpose        = dpNS + "purpose"        // the deal's purpose (trade.NewDeal's Purpose); default "other"
	PropDeliveryMode   = dpNS + "deliveryMode"   // the delivery mode; default the product's first
	PropContract       = dpNS + "contract"       // the agreement's contract, canonical JSON: what the buyer signs
	PropContractSHA256 = dpNS + "contractSHA256" // its SHA-256
	PropSigningKey     = dpNS + "signingKey"     // a verification's signing key id (registered to the consumer)
	PropSignature      = dpNS + "signature"      // and its base64 Ed25519 signature over the contract
)

// NegotiationService serves the negotiation endpoints.
type NegotiationService struct {
	Auth   Authenticator
	DB     *store.DB
	Trade  *trade.Service
	Client *Client
	// Peers gives the credentials to present at a consumer's callback address: those
	// its connector issued to this exchange (nil: none are presented).
	Peers  PeerCredentials
	Logger *slog.Logger
}

// negotiation is a row of dsp_negotiations.
type negotiation struct {
	ProviderPID, ConsumerPID, ConsumerID, Callback, DealID, OfferID string
	State                                                           NegotiationState
}

// ProviderPIDOf returns the provider pid of deal id's negotiation.
func ProviderPIDOf(dealID string) string { return NegotiationPIDPrefix + dealID }

func (s *NegotiationService) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *NegotiationService) fail(w http.ResponseWriter, r *http.Request, providerPID, consumerPID string, err error) {
	if StatusOf(err) >= 500 {
		s.logger().ErrorContext(r.Context(), "dsp negotiation", "error", err)
	}
	if werr := WriteError(w, NegotiationProtocol, providerPID, consumerPID, err); werr != nil {
		s.logger().ErrorContext(r.Context(), "dsp negotiation error message", "error", werr)
	}
}

func (s *NegotiationService) write(w http.ResponseWriter, r *http.Request, status int, m Message) {
	if err := WriteMessage(w, status, m); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp negotiation message", "error", err)
	}
}

// ServeRequest answers POST <base>/negotiations/request: a new negotiation, which is
// a new deal requested by the authenticated participant as buyer.
func (s *NegotiationService) ServeRequest(w http.ResponseWriter, r *http.Request) {
	const op = "dsp.NegotiationService.ServeRequest"
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	var msg ContractRequestMessage
	if err := ReadMessage(r, &msg); err != nil {
		s.fail(w, r, "", "", err)
		return
	}
	var probs dataport.Problems
	if msg.ProviderPID != "" {
		probs.Add("providerPid", "absent: a new negotiation has no provider pid yet (a counter-request goes to …/negotiations/:providerPid/request)")
	}
	if strings.TrimSpace(msg.ConsumerPID) == "" {
		probs.Add("consumerPid", "the consumer's id of the negotiation")
	}
	if u, err := url.Parse(msg.CallbackAddress); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		probs.Add("callbackAddress", "the consumer's absolute http(s) URL, where the provider's messages go")
	}
	if err := probs.Err(op); err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	if _, err := NegotiationState("").Next(Consumer, MoveContractRequest); err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	var t terms
	err = s.DB.Read(r.Context(), func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM dsp_negotiations WHERE consumer_id = $1 AND consumer_pid = $2`, actor.ParticipantID, msg.ConsumerPID).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "consumerPid", Message: "already names another negotiation of this consumer"})
		}
		var err error
		t, err = termsOf(tx, msg.Offer)
		return err
	})
	if err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	d, err := s.Trade.Request(r.Context(), actor, trade.NewDeal{ProductID: t.productID, Plan: t.plan, Price: t.price,
		Scenario: t.scenario, Purpose: t.purpose, DeliveryMode: t.mode})
	if err != nil {
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	n := negotiation{ProviderPID: ProviderPIDOf(d.ID), ConsumerPID: msg.ConsumerPID, ConsumerID: actor.ParticipantID,
		Callback: strings.TrimRight(msg.CallbackAddress, "/"), DealID: d.ID, OfferID: msg.Offer.ID, State: NegotiationState(d.State)}
	err = s.DB.Write(r.Context(), func(tx *store.Tx) error {
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`INSERT INTO dsp_negotiations (provider_pid, consumer_pid, consumer_id, callback_address, deal_id, offer_id, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, n.ProviderPID, n.ConsumerPID, n.ConsumerID, n.Callback, n.DealID, n.OfferID, string(n.State), now); err != nil {
			return dataport.Internal(op, err)
		}
		return fileNegotiation(tx, actor, "dsp.negotiation_requested", &n)
	})
	if err != nil {
		// The deal exists without its protocol record: end it, so no money stays held for
		// a negotiation the consumer cannot reach.
		if _, terr := s.Trade.Terminate(r.Context(), actor, d.ID, "the protocol record could not be stored", ""); terr != nil {
			s.logger().ErrorContext(r.Context(), "dsp negotiation: terminating an unrecorded deal", "deal", d.ID, "error", terr)
		}
		s.fail(w, r, "", msg.ConsumerPID, err)
		return
	}
	s.write(w, r, http.StatusCreated, &ContractNegotiation{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: n.State})
}

// ServeGet answers GET <base>/negotiations/:providerPid.
func (s *NegotiationService) ServeGet(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("providerPid")
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	n, d, err := s.lookup(r.Context(), actor, pid)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	s.write(w, r, http.StatusOK, &ContractNegotiation{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: NegotiationState(d.State)})
}

// ServeCounterRequest answers POST <base>/negotiations/:providerPid/request: the
// consumer's counter-offer, which trade takes as a counter-request at its price.
func (s *NegotiationService) ServeCounterRequest(w http.ResponseWriter, r *http.Request) {
	var msg ContractRequestMessage
	s.consumerMove(w, r, &msg, func(ctx context.Context, actor dataport.Actor, n *negotiation, d *trade.Deal) (trade.Deal, error) {
		const op = "dsp.NegotiationService.ServeCounterRequest"
		var t terms
		err := s.DB.Read(ctx, func(tx *store.Tx) error {
			var err error
			t, err = termsOf(tx, msg.Offer)
			return err
		})
		if err != nil {
			return trade.Deal{}, err
		}
		var probs dataport.Problems
		if t.productID != d.ProductID || t.revision != d.Revision {
			probs.Add("offer.@id", "an offer of the negotiated product and revision (%s)", n.OfferID)
		}
		if t.scenario != d.Scenario {
			probs.Add("offer.permission", "the negotiated scenario %q: dataport negotiates the price only", d.Scenario)
		}
		if t.purpose != d.Purpose && t.purposeSet {
			probs.Add("offer."+PropPurpose, "the negotiated purpose %q: dataport negotiates the price only", d.Purpose)
		}
		if t.mode != d.DeliveryMode && t.modeSet {
			probs.Add("offer."+PropDeliveryMode, "the negotiated delivery mode %q: dataport negotiates the price only", d.DeliveryMode)
		}
		if t.currency != d.Price.Currency {
			probs.Add("offer.permission.duty", "a price in %s", d.Price.Currency)
		}
		if t.price <= 0 {
			probs.Add("offer.permission.duty", "a compensate duty with the price asked (odrl:payAmount)")
		}
		if err := probs.Err(op); err != nil {
			return trade.Deal{}, err
		}
		return s.Trade.CounterRequest(ctx, actor, d.ID, t.price)
	})
}

// ServeEvent answers POST <base>/negotiations/:providerPid/events: the consumer's
// ACCEPTED (a consumer's FINALIZED is refused by the state machine).
func (s *NegotiationService) ServeEvent(w http.ResponseWriter, r *http.Request) {
	var msg ContractNegotiationEventMessage
	s.consumerMove(w, r, &msg, func(ctx context.Context, actor dataport.Actor, n *negotiation, d *trade.Deal) (trade.Deal, error) {
		return s.Trade.Accept(ctx, actor, d.ID, "")
	})
}

// ServeVerification answers POST <base>/negotiations/:providerPid/agreement/verification.
// A consumer whose participant registered a signing key verifies with its Ed25519
// signature over the contract, carried as extension properties (PropSigningKey,
// PropSignature): trade.Verify. A connector that sends the bare message, as the
// protocol defines it, verifies with the message itself (trade.VerifyByMessage): its
// canonical JSON's SHA-256 and the API key it came with are recorded as the buyer's
// assent, which the exchange's countersignature covers (doc.go, "Signatures").
func (s *NegotiationService) ServeVerification(w http.ResponseWriter, r *http.Request) {
	var msg ContractAgreementVerificationMessage
	s.consumerMove(w, r, &msg, func(ctx context.Context, actor dataport.Actor, n *negotiation, d *trade.Deal) (trade.Deal, error) {
		const op = "dsp.NegotiationService.ServeVerification"
		if msg.SigningKey != "" || msg.Signature != "" {
			if msg.SigningKey == "" || msg.Signature == "" {
				return trade.Deal{}, dataport.Invalid(op, dataport.FieldProblem{Field: PropSignature,
					Message: "both " + PropSigningKey + " and " + PropSignature + " (the consumer's Ed25519 signature over the agreement's " + PropContract + "), or neither"})
			}
			return s.Trade.Verify(ctx, actor, d.ID, trade.Signature{KeyID: msg.SigningKey, Signature: msg.Signature})
		}
		sum, err := MessageSHA256(&msg)
		if err != nil {
			return trade.Deal{}, err
		}
		return s.Trade.VerifyByMessage(ctx, actor, d.ID, trade.Assent{Protocol: "dsp/" + Version + " " + KindAgreementVerification,
			MessageSHA256: sum, ContractSHA256: d.ContractSHA256})
	})
}

// MessageSHA256 is the hex SHA-256 of a message's RFC 8785 canonical JSON, as
// Encode writes it: the same message has the same hash however it was spelled on
// the wire (its JSON-LD form, its keys' order, its whitespace).
func MessageSHA256(m Message) (string, error) {
	const op = "dsp.MessageSHA256"
	raw, err := Encode(m)
	if err != nil {
		return "", dataport.Wrap(op, err)
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return "", dataport.Internal(op, err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// ServeTermination answers POST <base>/negotiations/:providerPid/termination.
func (s *NegotiationService) ServeTermination(w http.ResponseWriter, r *http.Request) {
	var msg ContractNegotiationTerminationMessage
	s.consumerMove(w, r, &msg, func(ctx context.Context, actor dataport.Actor, n *negotiation, d *trade.Deal) (trade.Deal, error) {
		return s.Trade.Terminate(ctx, actor, d.ID, terminationReason("terminated by the consumer's connector", msg.Code, msg.Reason), "")
	})
}

// consumerMove is a consumer's message on an existing negotiation: authenticated, read,
// its pids those of the path's negotiation, its move one the deal's state admits from
// the consumer, then the trade call, and the state the consumer now knows recorded.
func (s *NegotiationService) consumerMove(w http.ResponseWriter, r *http.Request, msg Message,
	fn func(ctx context.Context, actor dataport.Actor, n *negotiation, d *trade.Deal) (trade.Deal, error)) {
	const op = "dsp.NegotiationService"
	pid := r.PathValue("providerPid")
	actor, err := s.Auth.Authenticate(r)
	if err != nil {
		s.fail(w, r, pid, "", err)
		return
	}
	n, d, err := s.lookup(r.Context(), actor, pid)
	if err != nil {
		s.fail(w, r, pid, "", err)
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
	if _, err := NegotiationState(d.State).Next(Consumer, move); err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	after, err := fn(r.Context(), actor, &n, &d)
	if err != nil {
		s.fail(w, r, n.ProviderPID, n.ConsumerPID, err)
		return
	}
	state := NegotiationState(after.State)
	if err := s.record(r.Context(), actor, &n, state, "dsp.negotiation_received", string(move)); err != nil {
		s.logger().ErrorContext(r.Context(), "dsp negotiation: recording the consumer's move", "pid", n.ProviderPID, "error", err)
	}
	s.write(w, r, http.StatusOK, &ContractNegotiation{ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: state})
}

// lookup finds the caller's negotiation pid and its deal: not found when unknown or
// another participant's.
func (s *NegotiationService) lookup(ctx context.Context, actor dataport.Actor, pid string) (negotiation, trade.Deal, error) {
	const op = "dsp.NegotiationService.lookup"
	var n negotiation
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = readNegotiation(tx, `provider_pid = $1`, pid)
		if err == nil && n.ConsumerID != actor.ParticipantID {
			err = sql.ErrNoRows
		}
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no negotiation %s", pid)
		}
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return negotiation{}, trade.Deal{}, err
	}
	d, err := s.Trade.Get(ctx, actor, n.DealID)
	return n, d, err
}

func readNegotiation(tx *store.Tx, where string, arg string) (negotiation, error) {
	var n negotiation
	var state string
	err := tx.QueryRow(`SELECT provider_pid, consumer_pid, consumer_id, callback_address, deal_id, offer_id, state FROM dsp_negotiations WHERE `+where, arg).
		Scan(&n.ProviderPID, &n.ConsumerPID, &n.ConsumerID, &n.Callback, &n.DealID, &n.OfferID, &state)
	n.State = NegotiationState(state)
	return n, err
}

// record sets the state the consumer knows, and files it.
func (s *NegotiationService) record(ctx context.Context, actor dataport.Actor, n *negotiation, state NegotiationState, event, move string) error {
	n.State = state
	return s.DB.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(`UPDATE dsp_negotiations SET state = $2, updated_at = $3 WHERE provider_pid = $1`,
			n.ProviderPID, string(state), store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal("dsp.record", err)
		}
		return fileNegotiation(tx, actor, event, n, "move", move)
	})
}

func fileNegotiation(tx *store.Tx, actor dataport.Actor, event string, n *negotiation, kv ...string) error {
	payload := map[string]any{"provider_pid": n.ProviderPID, "consumer_pid": n.ConsumerPID, "deal_id": n.DealID,
		"callback_address": n.Callback, "offer_id": n.OfferID, "state": string(n.State)}
	for i := 0; i+1 < len(kv); i += 2 {
		payload[kv[i]] = kv[i+1]
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{n.DealID, n.ConsumerID}, Payload: payload})
	return err
}

func terminationReason(fallback, code string, reason []any) string {
	var parts []string
	if code != "" {
		parts = append(parts, code)
	}
	for _, r := range reason {
		if s, ok := r.(string); ok && strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		} else if m, ok := r.(map[string]any); ok {
			if v, ok := m["@value"].(string); ok {
				parts = append(parts, v)
			}
		}
	}
	out := strings.Join(parts, ": ")
	if out == "" {
		out = fallback
	}
	if len(out) > 1000 {
		out = out[:1000]
	}
	return out
}

// Notify brings the consumer up to date with deal dealID's negotiation, if it has
// one, after a move made through the REST API: a move of the buyer's own is only
// recorded; when the deal has moved by the provider's hand past the state the
// consumer was last told, the message of that move — offer, agreement, FINALIZED event or
// termination — is checked against the state machine, encoded and validated, posted
// to the consumer's callback address, and the new state recorded. It does nothing
// for a deal without a negotiation or one the consumer already knows. A message the
// consumer refuses or cannot be reached for leaves the recorded state as it was, so
// that a later Notify sends it again.
func (s *NegotiationService) Notify(ctx context.Context, actor dataport.Actor, dealID string) error {
	const op = "dsp.NegotiationService.Notify"
	var n negotiation
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = readNegotiation(tx, `deal_id = $1`, dealID)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dataport.Internal(op, err)
	}
	d, err := s.Trade.Get(ctx, dataport.System, dealID)
	if err != nil {
		return err
	}
	state := NegotiationState(d.State)
	if state == n.State {
		return nil
	}
	var msg Message
	var path string
	base := Context{ContextURL}
	switch state {
	case NegotiationOffered:
		msg, path = &ContractOfferMessage{Context: base, ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Offer: offerOfDeal(&d, n.OfferID)}, "/offers"
	case NegotiationAgreed:
		msg, path = &ContractAgreementMessage{Context: base, ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Agreement: agreementOf(&d)}, "/agreement"
	case NegotiationFinalized:
		msg, path = &ContractNegotiationEventMessage{Context: base, ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, EventType: EventFinalized}, "/events"
	case NegotiationTerminated:
		if d.TerminatedBy == n.ConsumerID {
			return s.record(ctx, actor, &n, state, "dsp.negotiation_consumer_moved", string(MoveNegotiationTermination))
		}
		msg, path = &ContractNegotiationTerminationMessage{Context: base, ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID,
			Code: "TERMINATED", Reason: []any{d.TerminationReason}}, "/termination"
	default:
		// A consumer's move (REQUESTED, ACCEPTED, VERIFIED) that the buyer made through
		// the REST API rather than its connector: nothing to send, the state to record.
		return s.record(ctx, actor, &n, state, "dsp.negotiation_consumer_moved", "")
	}
	move, err := NegotiationMoveOf(msg)
	if err != nil {
		return dataport.Internal(op, err)
	}
	if _, err := n.State.Next(Provider, move); err != nil && state != NegotiationTerminated {
		return dataport.Wrap(op, err)
	}
	client := s.Client
	if s.Peers != nil {
		creds, err := s.Peers.CredentialsFor(ctx, n.ConsumerID)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		client = client.With(creds)
	}
	if err := client.Post(ctx, n.Callback+"/negotiations/"+url.PathEscape(n.ConsumerPID)+path, msg); err != nil {
		return dataport.Wrap(op, err)
	}
	return s.record(ctx, actor, &n, state, "dsp.negotiation_sent", string(move))
}

// owedBatch bounds the negotiations one SendOwed brings up to date.
const owedBatch = 100

var _ OwedSender = (*NegotiationService)(nil)

// SendOwed sends what is owed (OwedSender): for every negotiation whose deal has moved
// past the state its consumer was last told (a callback that failed, or a move made
// while the server stopped), Notify again, up to owedBatch negotiations, oldest change
// first. It returns how many were brought up to date; the others are retried at the
// next call. The server runs it periodically (SendOwedEvery), so a consumer that was
// unreachable hears of the provider's moves once it is back, without waiting for
// another move.
func (s *NegotiationService) SendOwed(ctx context.Context) (int, error) {
	const op = "dsp.NegotiationService.SendOwed"
	var owed []string
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT n.deal_id FROM dsp_negotiations n JOIN deals d ON d.id = n.deal_id
			WHERE d.state <> n.state ORDER BY n.updated_at, n.provider_pid LIMIT $1`, owedBatch)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return dataport.Internal(op, err)
			}
			owed = append(owed, id)
		}
		return dataport.Wrap(op, rows.Err())
	})
	if err != nil {
		return 0, err
	}
	done, failed := 0, 0
	var last error
	for _, id := range owed {
		if err := s.Notify(ctx, dataport.System, id); err != nil {
			failed, last = failed+1, err
			continue
		}
		done++
	}
	if failed > 0 {
		return done, dataport.Errorf(op, dataport.KindUnavailable, "%d negotiations still owe their consumer a message; the last: %v", failed, last)
	}
	return done, nil
}

// offerOfDeal is the provider's offer of a deal: the terms the deal negotiates —
// the product's permission for the scenario, the purpose and delivery mode, and the
// compensate duty at the price on the table.
func offerOfDeal(d *trade.Deal, offerID string) Policy {
	return Policy{ID: offerID, Type: TypeOffer, Target: ProductIRI(d.ProductID), Permission: []Rule{permissionOf(d)},
		Extra: Extra{PropPurpose: d.Purpose, PropDeliveryMode: d.DeliveryMode,
			dpNS + "price": map[string]any{"amount": d.Price.Amount, "currency": d.Price.Currency}}}
}

func permissionOf(d *trade.Deal) Rule {
	return Rule{Action: "use",
		Constraint: []Constraint{{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: d.Scenario}},
		Duty: []Rule{{Action: "odrl:compensate", Constraint: []Constraint{{
			LeftOperand: "odrl:payAmount", Operator: "eq",
			RightOperand: map[string]any{"@value": decimal(d.Price), "@type": "xsd:decimal"},
			Extra:        Extra{"odrl:unit": map[string]any{"@id": "http://qudt.org/vocab/currency/" + d.Price.Currency}},
		}}}}}
}

// agreementOf is the agreed deal as the ODRL Agreement: the contract's parties and
// terms, and the contract itself with its hash, which the consumer signs to verify.
func agreementOf(d *trade.Deal) Policy {
	perm := permissionOf(d)
	perm.Constraint = append(perm.Constraint, Constraint{LeftOperand: "odrl:elapsedTime", Operator: "lteq",
		RightOperand: map[string]any{"@value": fmt.Sprintf("P%dD", d.TermDays), "@type": "xsd:duration"}},
		Constraint{LeftOperand: "odrl:count", Operator: "lteq",
			RightOperand: map[string]any{"@value": strconv.FormatInt(d.MaxUses, 10), "@type": "xsd:integer"}})
	return Policy{ID: DealIRIPrefix + d.ID, Type: TypeAgreement, Target: ProductIRI(d.ProductID),
		Assigner: ParticipantIRI(d.ProviderID), Assignee: ParticipantIRI(d.BuyerID),
		Timestamp: d.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"), Permission: []Rule{perm},
		Extra: Extra{PropContract: d.Contract, PropContractSHA256: d.ContractSHA256, PropPurpose: d.Purpose, PropDeliveryMode: d.DeliveryMode}}
}

// terms are what a contract request's offer asks for, in trade's terms.
type terms struct {
	productID           string
	revision            int64
	plan                int
	scenario, purpose   string
	mode, currency      string
	price               int64 // 0: the plan's price
	purposeSet, modeSet bool
	planPrice           dataport.Money
}

// termsOf reads an offer of a contract request against the listed product it names:
// its @id an offer of the product's listed revision (ParseOfferID), its target the
// product's dataset, the scenario its odrl:purpose constraint (eq, or isAnyOf with one
// value; the product's only scenario when absent), the purpose and delivery mode the
// extension properties (default "other" and the product's first mode), the price its
// compensate duty's odrl:payAmount in the plan's currency (the plan's price when
// absent).
func termsOf(tx *store.Tx, offer Policy) (terms, error) {
	const op = "dsp.termsOf"
	productID, rev, plan, err := ParseOfferID(offer.ID)
	if err != nil {
		return terms{}, dataport.Invalid(op, dataport.FieldProblem{Field: "offer.@id", Message: dataport.MessageOf(err)})
	}
	p, err := catalog.ListedProduct(tx, productID)
	if err != nil {
		return terms{}, dataport.Invalid(op, dataport.FieldProblem{Field: "offer.@id", Message: "no listed product " + productID})
	}
	var probs dataport.Problems
	if rev != p.ListedRevision {
		probs.Add("offer.@id", "stale: revision %d of the product is listed now; ask for the dataset again", p.ListedRevision)
	}
	if plan >= len(p.Details.PricePlans) {
		probs.Add("offer.@id", "the product has %d price plans", len(p.Details.PricePlans))
	}
	if offer.Target != "" && ProductOf(offer.Target) != productID {
		probs.Add("offer.target", "%s, the dataset the offer is of", ProductIRI(productID))
	}
	if err := probs.Err(op); err != nil {
		return terms{}, err
	}
	t := terms{productID: productID, revision: rev, plan: plan, purpose: "other", planPrice: p.Details.PricePlans[plan].Price}
	t.currency = t.planPrice.Currency
	if len(p.Details.DeliveryModes) > 0 {
		t.mode = p.Details.DeliveryModes[0]
	}
	if v, ok := offer.Extra[PropPurpose].(string); ok {
		t.purpose, t.purposeSet = v, true
	}
	if v, ok := offer.Extra[PropDeliveryMode].(string); ok {
		t.mode, t.modeSet = v, true
	}
	var scenarios []string
	for _, perm := range offer.Permission {
		for _, c := range perm.Constraint {
			if c.LeftOperand != "odrl:purpose" && c.LeftOperand != "purpose" {
				continue
			}
			switch v := c.RightOperand.(type) {
			case string:
				scenarios = append(scenarios, v)
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						scenarios = append(scenarios, s)
					}
				}
			}
		}
		for _, duty := range perm.Duty {
			if duty.Action != "odrl:compensate" && duty.Action != "compensate" {
				continue
			}
			for _, c := range duty.Constraint {
				if c.LeftOperand != "odrl:payAmount" && c.LeftOperand != "payAmount" {
					continue
				}
				if u, ok := c.Extra["odrl:unit"].(map[string]any); ok {
					if id, ok := u["@id"].(string); ok {
						t.currency = id[strings.LastIndex(id, "/")+1:]
					}
				}
				raw := c.RightOperand
				if m, ok := raw.(map[string]any); ok {
					raw = m["@value"]
				}
				amount, ok := minorUnits(fmt.Sprint(raw), t.currency)
				if !ok {
					probs.Add("offer.permission.duty", "odrl:payAmount an exact decimal in %s's major unit", t.currency)
				}
				t.price = amount
			}
		}
	}
	switch {
	case len(scenarios) == 1:
		t.scenario = scenarios[0]
	case len(scenarios) == 0 && len(p.Details.Scenarios) == 1:
		t.scenario = p.Details.Scenarios[0]
	default:
		probs.Add("offer.permission", "an odrl:purpose constraint naming one of the product's scenarios: %s", strings.Join(p.Details.Scenarios, "; "))
	}
	if t.scenario != "" && !slices.Contains(p.Details.Scenarios, t.scenario) {
		probs.Add("offer.permission", "odrl:purpose one of the product's scenarios: %s", strings.Join(p.Details.Scenarios, "; "))
	}
	if t.currency != t.planPrice.Currency {
		probs.Add("offer.permission.duty", "a price in the plan's currency, %s", t.planPrice.Currency)
	}
	if t.price == t.planPrice.Amount {
		t.price = 0 // the plan's price
	}
	return t, probs.Err(op)
}

// minorUnits reads a decimal in currency's major unit as minor units, exactly.
func minorUnits(s, currency string) (int64, bool) {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") || len(frac) > digits {
		return 0, false
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	return n, err == nil && n >= 0
}
