package dsp

import (
	"fmt"
	"strings"

	"github.com/dataport/dataport"
)

// Contract Negotiation Protocol messages (DSP 2025-1, "Contract Negotiation
// Protocol", "Message Types"). providerPid and consumerPid are each side's
// identifier of the negotiation (an IRI, e.g. urn:uuid:…).

// ContractRequestMessage is the consumer's request: it opens a negotiation
// (POST <base>/negotiations/request, with callbackAddress and without
// providerPid) or answers an offer with a counter-offer (POST
// <base>/negotiations/:providerPid/request, with providerPid).
type ContractRequestMessage struct {
	Context         Context `json:"@context,omitempty"`
	Type            string  `json:"@type,omitempty"`
	ProviderPID     string  `json:"providerPid,omitempty"`
	ConsumerPID     string  `json:"consumerPid"`
	Offer           Policy  `json:"offer"` // an Offer with a target
	CallbackAddress string  `json:"callbackAddress,omitempty"`
}

// MessageKind implements Message.
func (*ContractRequestMessage) MessageKind() string { return KindContractRequest }

// ContractOfferMessage is the provider's offer: it opens a negotiation (POST
// <callback>/negotiations/offers, with callbackAddress and without consumerPid)
// or answers a request (POST <callback>/negotiations/:consumerPid/offers).
type ContractOfferMessage struct {
	Context         Context `json:"@context,omitempty"`
	Type            string  `json:"@type,omitempty"`
	ProviderPID     string  `json:"providerPid"`
	ConsumerPID     string  `json:"consumerPid,omitempty"`
	Offer           Policy  `json:"offer"` // an Offer with @id and target
	CallbackAddress string  `json:"callbackAddress,omitempty"`
}

// MessageKind implements Message.
func (*ContractOfferMessage) MessageKind() string { return KindContractOffer }

// ContractAgreementMessage is the provider's agreement (POST
// <callback>/negotiations/:consumerPid/agreement): the complete ODRL Agreement,
// with target, assigner, assignee and timestamp.
type ContractAgreementMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Agreement   Policy  `json:"agreement"`
}

// MessageKind implements Message.
func (*ContractAgreementMessage) MessageKind() string { return KindContractAgreement }

// ContractAgreementVerificationMessage is the consumer's verification of the
// agreement (POST <base>/negotiations/:providerPid/agreement/verification).
//
// dataport's extension (doc.go, "Signatures"): the consumer's Ed25519 signature
// over the agreement's contract, with the id of its registered key, as two
// properties of dataport's vocabulary (the schema admits extra properties).
type ContractAgreementVerificationMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	SigningKey  string  `json:"https://dataport.example/ns#signingKey,omitempty"`
	Signature   string  `json:"https://dataport.example/ns#signature,omitempty"`
}

// MessageKind implements Message.
func (*ContractAgreementVerificationMessage) MessageKind() string {
	return KindAgreementVerification
}

// Event types of a ContractNegotiationEventMessage.
const (
	EventAccepted  = "ACCEPTED"  // sent by the consumer: it accepts the latest offer
	EventFinalized = "FINALIZED" // sent by the provider: the agreement is final
)

// ContractNegotiationEventMessage is the consumer's acceptance (POST
// <base>/negotiations/:providerPid/events) or the provider's finalisation (POST
// <callback>/negotiations/:consumerPid/events).
type ContractNegotiationEventMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	EventType   string  `json:"eventType"`
}

// MessageKind implements Message.
func (*ContractNegotiationEventMessage) MessageKind() string { return KindNegotiationEvent }

// ContractNegotiationTerminationMessage ends a negotiation, sent by either side
// (POST …/negotiations/:pid/termination), with an optional code and reasons.
type ContractNegotiationTerminationMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Code        string  `json:"code,omitempty"`
	Reason      []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*ContractNegotiationTerminationMessage) MessageKind() string {
	return KindNegotiationTermination
}

// ContractNegotiation is the negotiation as one side holds it: the ACK of every
// negotiation message, and the answer to GET …/negotiations/:pid.
type ContractNegotiation struct {
	Context     Context          `json:"@context,omitempty"`
	Type        string           `json:"@type,omitempty"`
	ProviderPID string           `json:"providerPid"`
	ConsumerPID string           `json:"consumerPid"`
	State       NegotiationState `json:"state"`
}

// MessageKind implements Message.
func (*ContractNegotiation) MessageKind() string { return KindNegotiation }

// ContractNegotiationError is the ERROR response of the negotiation endpoints;
// it causes no state transition. Both pids are always written (empty when the
// answering side has none yet), as the schema requires them.
type ContractNegotiationError struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Code        string  `json:"code,omitempty"`
	Reason      []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*ContractNegotiationError) MessageKind() string { return KindNegotiationError }

// Role is a participant's side of a negotiation or a transfer.
type Role string

const (
	Provider Role = "provider"
	Consumer Role = "consumer"
)

// Other returns the counter-party's role.
func (r Role) Other() Role {
	if r == Provider {
		return Consumer
	}
	return Provider
}

// NegotiationState is a contract negotiation's state (DSP 2025-1, "Contract
// Negotiation Protocol", "States"). The empty state is the negotiation before
// its first message. The values are those of the trade package's deal states.
type NegotiationState string

const (
	NegotiationRequested  NegotiationState = "REQUESTED"
	NegotiationOffered    NegotiationState = "OFFERED"
	NegotiationAccepted   NegotiationState = "ACCEPTED"
	NegotiationAgreed     NegotiationState = "AGREED"
	NegotiationVerified   NegotiationState = "VERIFIED"
	NegotiationFinalized  NegotiationState = "FINALIZED"
	NegotiationTerminated NegotiationState = "TERMINATED"
)

// Terminal reports whether no message may move the negotiation any more.
func (s NegotiationState) Terminal() bool {
	return s == NegotiationFinalized || s == NegotiationTerminated
}

// NegotiationMove is a message that moves a negotiation; the event message is
// two moves, one per event type.
type NegotiationMove string

const (
	MoveContractRequest        NegotiationMove = KindContractRequest
	MoveContractOffer          NegotiationMove = KindContractOffer
	MoveContractAgreement      NegotiationMove = KindContractAgreement
	MoveAgreementVerification  NegotiationMove = KindAgreementVerification
	MoveEventAccepted          NegotiationMove = KindNegotiationEvent + ":" + EventAccepted
	MoveEventFinalized         NegotiationMove = KindNegotiationEvent + ":" + EventFinalized
	MoveNegotiationTermination NegotiationMove = KindNegotiationTermination
)

// NegotiationMoveOf returns the move a negotiation message makes.
func NegotiationMoveOf(m Message) (NegotiationMove, error) {
	switch m := m.(type) {
	case *ContractRequestMessage:
		return MoveContractRequest, nil
	case *ContractOfferMessage:
		return MoveContractOffer, nil
	case *ContractAgreementMessage:
		return MoveContractAgreement, nil
	case *ContractAgreementVerificationMessage:
		return MoveAgreementVerification, nil
	case *ContractNegotiationEventMessage:
		switch m.EventType {
		case EventAccepted:
			return MoveEventAccepted, nil
		case EventFinalized:
			return MoveEventFinalized, nil
		}
		return "", dataport.Invalid("dsp.NegotiationMoveOf", dataport.FieldProblem{Field: "eventType", Message: "ACCEPTED or FINALIZED"})
	case *ContractNegotiationTerminationMessage:
		return MoveNegotiationTermination, nil
	}
	return "", dataport.Invalid("dsp.NegotiationMoveOf", dataport.FieldProblem{Field: "@type", Message: fmt.Sprintf("%s does not move a contract negotiation", m.MessageKind())})
}

type transition[S ~string, M ~string] struct {
	move M
	by   Role // "" for either
	to   S
}

// negotiationMoves is the state machine of DSP 2025-1 ("Contract Negotiation
// Protocol", "State Machine"): the messages each state admits, who sends each,
// and the state it leads to.
//
// Termination: the text says the termination message "can be sent at any state
// of a CN", by either side; the figure of the release draws only some of those
// arrows (ACCEPTED and VERIFIED by the provider, AGREED by the consumer). The
// text rules here, as in the trade package, and every TCK scenario agrees with
// both. The figure has no OFFERED → OFFERED and no REQUESTED → REQUESTED arrow:
// a second counter-offer before the provider answers is an error (TCK CN:03-04).
var negotiationMoves = map[NegotiationState][]transition[NegotiationState, NegotiationMove]{
	"": {
		{MoveContractRequest, Consumer, NegotiationRequested},
		{MoveContractOffer, Provider, NegotiationOffered},
	},
	NegotiationRequested: {
		{MoveContractOffer, Provider, NegotiationOffered},
		{MoveContractAgreement, Provider, NegotiationAgreed},
		{MoveNegotiationTermination, "", NegotiationTerminated},
	},
	NegotiationOffered: {
		{MoveContractRequest, Consumer, NegotiationRequested},
		{MoveEventAccepted, Consumer, NegotiationAccepted},
		{MoveNegotiationTermination, "", NegotiationTerminated},
	},
	NegotiationAccepted: {
		{MoveContractAgreement, Provider, NegotiationAgreed},
		{MoveNegotiationTermination, "", NegotiationTerminated},
	},
	NegotiationAgreed: {
		{MoveAgreementVerification, Consumer, NegotiationVerified},
		{MoveNegotiationTermination, "", NegotiationTerminated},
	},
	NegotiationVerified: {
		{MoveEventFinalized, Provider, NegotiationFinalized},
		{MoveNegotiationTermination, "", NegotiationTerminated},
	},
}

// Next returns the state a negotiation in state s reaches when by sends m. A
// move the state does not admit, or that by's side never makes (a consumer's
// FINALIZED event, a provider's ACCEPTED event), is a KindConflict error naming
// the state and the moves it admits: the binding answers it with 400 and a
// ContractNegotiationError ("State Transition Errors"), and the state stays as
// it was. Next is pure; both sides run it, the receiver on what it receives and
// the sender on what it sends.
func (s NegotiationState) Next(by Role, m NegotiationMove) (NegotiationState, error) {
	return next("dsp.NegotiationState.Next", "negotiation", s, negotiationMoves, by, m)
}

// Moves returns the moves state s admits, each with who sends it.
func (s NegotiationState) Moves() []string { return moves(negotiationMoves[s]) }

func next[S ~string, M ~string](op, what string, s S, table map[S][]transition[S, M], by Role, m M) (S, error) {
	if by != Provider && by != Consumer {
		return s, dataport.Internal(op, fmt.Errorf("role %q", by))
	}
	for _, t := range table[s] {
		if t.move != m {
			continue
		}
		if t.by != "" && t.by != by {
			return s, dataport.Errorf(op, dataport.KindConflict, "%s is the %s's message, not the %s's (the %s is %s)", m, t.by, by, what, stateName(s))
		}
		return t.to, nil
	}
	allowed := moves(table[s])
	list := strings.Join(allowed, ", ")
	if len(allowed) == 0 {
		list = "none, the state is final"
	}
	return s, dataport.Errorf(op, dataport.KindConflict, "%s from the %s is not allowed when the %s is %s; allowed: %s", m, by, what, stateName(s), list)
}

func stateName[S ~string](s S) string {
	if s == "" {
		return "not yet started"
	}
	return string(s)
}

func moves[S ~string, M ~string](ts []transition[S, M]) []string {
	out := []string{}
	for _, t := range ts {
		by := string(t.by)
		if by == "" {
			by = "either"
		}
		out = append(out, fmt.Sprintf("%s (%s)", t.move, by))
	}
	return out
}
