package dsp

import (
	"encoding/json"
	"fmt"

	"github.com/dataport/dataport"
)

// Transfer Process Protocol messages (DSP 2025-1, "Transfer Process Protocol",
// "Message Types"): a consumer asks for the data of an agreement in a format of
// the dataset's distributions; the provider starts the transfer (for a pull, with
// the address to pull from); either side suspends, restarts, completes or
// terminates it.

// TransferRequestMessage is the consumer's request (POST <base>/transfers/request).
// DataAddress is given only for a push format: where the provider pushes to.
type TransferRequestMessage struct {
	Context         Context      `json:"@context,omitempty"`
	Type            string       `json:"@type,omitempty"`
	ConsumerPID     string       `json:"consumerPid"`
	AgreementID     string       `json:"agreementId"`
	Format          string       `json:"format"`
	DataAddress     *DataAddress `json:"dataAddress,omitempty"`
	CallbackAddress string       `json:"callbackAddress"`
}

// MessageKind implements Message.
func (*TransferRequestMessage) MessageKind() string { return KindTransferRequest }

// TransferStartMessage starts a transfer: the provider's (POST
// <callback>/transfers/:consumerPid/start), for a pull with the address to pull
// from; or, after a suspension, either side's restart.
type TransferStartMessage struct {
	Context     Context      `json:"@context,omitempty"`
	Type        string       `json:"@type,omitempty"`
	ProviderPID string       `json:"providerPid"`
	ConsumerPID string       `json:"consumerPid"`
	DataAddress *DataAddress `json:"dataAddress,omitempty"`
}

// MessageKind implements Message.
func (*TransferStartMessage) MessageKind() string { return KindTransferStart }

// TransferCompletionMessage says the transfer is complete, from either side.
type TransferCompletionMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
}

// MessageKind implements Message.
func (*TransferCompletionMessage) MessageKind() string { return KindTransferCompletion }

// TransferSuspensionMessage suspends the transfer, from either side.
type TransferSuspensionMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Code        string  `json:"code,omitempty"`
	Reason      []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*TransferSuspensionMessage) MessageKind() string { return KindTransferSuspension }

// TransferTerminationMessage ends the transfer, from either side.
type TransferTerminationMessage struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Code        string  `json:"code,omitempty"`
	Reason      []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*TransferTerminationMessage) MessageKind() string { return KindTransferTermination }

// TransferProcess is the transfer as one side holds it: the ACK of every transfer
// message, and the answer to GET …/transfers/:pid.
type TransferProcess struct {
	Context     Context       `json:"@context,omitempty"`
	Type        string        `json:"@type,omitempty"`
	ProviderPID string        `json:"providerPid"`
	ConsumerPID string        `json:"consumerPid"`
	State       TransferState `json:"state"`
}

// MessageKind implements Message.
func (*TransferProcess) MessageKind() string { return KindTransferProcess }

// TransferError is the ERROR response of the transfer endpoints; it causes no
// state transition. Both pids are always written, as the schema requires them.
type TransferError struct {
	Context     Context `json:"@context,omitempty"`
	Type        string  `json:"@type,omitempty"`
	ProviderPID string  `json:"providerPid"`
	ConsumerPID string  `json:"consumerPid"`
	Code        string  `json:"code,omitempty"`
	Reason      []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*TransferError) MessageKind() string { return KindTransferError }

// DataAddress is where data is pushed to or pulled from: an endpoint of a type
// (e.g. https://w3id.org/idsa/v4.1/HTTP) with transport properties such as
// "authorization" (an opaque token) and "authType" ("bearer").
type DataAddress struct {
	Type               string             `json:"@type,omitempty"` // "DataAddress"
	EndpointType       string             `json:"endpointType"`
	Endpoint           string             `json:"endpoint,omitempty"`
	EndpointProperties []EndpointProperty `json:"endpointProperties,omitzero"`
}

// MessageKind implements Message.
func (*DataAddress) MessageKind() string { return KindDataAddress }

// Property returns the value of the endpoint property named name, if any.
func (a *DataAddress) Property(name string) (string, bool) {
	for _, p := range a.EndpointProperties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

type plainDataAddress DataAddress

// MarshalJSON writes the address typed "DataAddress".
func (a DataAddress) MarshalJSON() ([]byte, error) {
	if a.Type == "" {
		a.Type = KindDataAddress
	}
	return json.Marshal(plainDataAddress(a))
}

// EndpointProperty is one named property of a data address.
type EndpointProperty struct {
	Type  string `json:"@type,omitempty"` // "EndpointProperty"
	Name  string `json:"name"`
	Value string `json:"value"`
}

type plainEndpointProperty EndpointProperty

// MarshalJSON writes the property typed "EndpointProperty".
func (p EndpointProperty) MarshalJSON() ([]byte, error) {
	if p.Type == "" {
		p.Type = "EndpointProperty"
	}
	return json.Marshal(plainEndpointProperty(p))
}

// TransferState is a transfer process's state (DSP 2025-1, "Transfer Process
// Protocol", "States"). The empty state is the transfer before its request.
type TransferState string

const (
	TransferRequested  TransferState = "REQUESTED"
	TransferStarted    TransferState = "STARTED"
	TransferSuspended  TransferState = "SUSPENDED"
	TransferCompleted  TransferState = "COMPLETED"
	TransferTerminated TransferState = "TERMINATED"
)

// Terminal reports whether no message may move the transfer any more.
func (s TransferState) Terminal() bool {
	return s == TransferCompleted || s == TransferTerminated
}

// TransferMove is a message that moves a transfer process.
type TransferMove string

const (
	MoveTransferRequest     TransferMove = KindTransferRequest
	MoveTransferStart       TransferMove = KindTransferStart
	MoveTransferCompletion  TransferMove = KindTransferCompletion
	MoveTransferSuspension  TransferMove = KindTransferSuspension
	MoveTransferTermination TransferMove = KindTransferTermination
)

// TransferMoveOf returns the move a transfer message makes.
func TransferMoveOf(m Message) (TransferMove, error) {
	switch m.(type) {
	case *TransferRequestMessage:
		return MoveTransferRequest, nil
	case *TransferStartMessage:
		return MoveTransferStart, nil
	case *TransferCompletionMessage:
		return MoveTransferCompletion, nil
	case *TransferSuspensionMessage:
		return MoveTransferSuspension, nil
	case *TransferTerminationMessage:
		return MoveTransferTermination, nil
	}
	return "", dataport.Invalid("dsp.TransferMoveOf", dataport.FieldProblem{Field: "@type", Message: fmt.Sprintf("%s does not move a transfer process", m.MessageKind())})
}

// transferMoves is the state machine of DSP 2025-1 ("Transfer Process Protocol",
// "State Machine"): only the provider starts a requested transfer; either side
// restarts a suspended one (the provider's /start endpoint exists for the
// consumer's restart, "Transfer Process HTTPS Binding"); a suspended transfer
// must be started again before it completes.
var transferMoves = map[TransferState][]transition[TransferState, TransferMove]{
	"": {
		{MoveTransferRequest, Consumer, TransferRequested},
	},
	TransferRequested: {
		{MoveTransferStart, Provider, TransferStarted},
		{MoveTransferTermination, "", TransferTerminated},
	},
	TransferStarted: {
		{MoveTransferCompletion, "", TransferCompleted},
		{MoveTransferSuspension, "", TransferSuspended},
		{MoveTransferTermination, "", TransferTerminated},
	},
	TransferSuspended: {
		{MoveTransferStart, "", TransferStarted},
		{MoveTransferTermination, "", TransferTerminated},
	},
}

// Next returns the state a transfer in state s reaches when by sends m, or, for
// a move the state does not admit or that by's side does not make, a
// KindConflict error naming the state and the moves it admits (400 with a
// TransferError, "State Transition Errors"); the state stays as it was.
func (s TransferState) Next(by Role, m TransferMove) (TransferState, error) {
	return next("dsp.TransferState.Next", "transfer", s, transferMoves, by, m)
}

// Moves returns the moves state s admits, each with who sends it.
func (s TransferState) Moves() []string { return moves(transferMoves[s]) }
