package dsp

import (
	"errors"
	"io"
	"net/http"

	"github.com/dataport/dataport"
)

// The HTTPS binding's requests and responses are application/json (DSP 2025-1,
// each protocol's HTTPS binding, "Prerequisites").
const contentType = "application/json"

// MaxMessageBytes bounds a request body: the largest message is a catalog, which
// a provider sends and never receives, so a megabyte is ample.
const MaxMessageBytes = 1 << 20

// Error codes dataport puts in the "code" of a protocol error message. The
// specification leaves codes to implementations ("An optional
// implementation-specific error code").
const (
	CodeInvalidMessage = "INVALID_MESSAGE"          // the message fails its schema or the endpoint's rules
	CodeInvalidState   = "INVALID_STATE_TRANSITION" // the message is not allowed in the process's state
	CodeNotFound       = "NOT_FOUND"                // no such process or dataset, or not one the caller may see
	CodeTooLarge       = "TOO_LARGE"
	CodeUnavailable    = "UNAVAILABLE"
	CodeInternal       = "INTERNAL"
)

// StatusOf maps an error to the HTTP status the binding requires (DSP 2025-1,
// HTTPS bindings, "Contract Negotiation Error", "Transfer Error"): 400 for a
// message that is invalid or not allowed in the state ("State Transition
// Errors"); 404 for an unknown process and for a caller that is not authorised
// ("Object Not Found", "Unauthorized Access"); 413, 503 and 500 otherwise.
func StatusOf(err error) int {
	switch dataport.KindOf(err) {
	case dataport.KindInvalid, dataport.KindConflict:
		return http.StatusBadRequest
	case dataport.KindNotFound, dataport.KindUnauthorized, dataport.KindForbidden:
		return http.StatusNotFound
	case dataport.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case dataport.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// CodeOf returns the protocol error code for err.
func CodeOf(err error) string {
	switch dataport.KindOf(err) {
	case dataport.KindInvalid:
		return CodeInvalidMessage
	case dataport.KindConflict:
		return CodeInvalidState
	case dataport.KindNotFound:
		return CodeNotFound
	case dataport.KindUnauthorized, dataport.KindForbidden:
		return CodeNotFound // a caller that may not see a process learns no more than an unknown pid tells
	case dataport.KindTooLarge:
		return CodeTooLarge
	case dataport.KindUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}

// reasons are what an error message's reason says: the client-safe message and
// each field problem. A caller that is not authorised is told only "not found".
func reasons(err error) []any {
	switch dataport.KindOf(err) {
	case dataport.KindUnauthorized, dataport.KindForbidden:
		return []any{"not found"}
	}
	out := []any{dataport.MessageOf(err)}
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == "" {
			out = append(out, f.Message)
		} else {
			out = append(out, f.Field+": "+f.Message)
		}
	}
	return out
}

// Protocol is one of the three protocols, each with its own error message.
type Protocol int

const (
	CatalogProtocol Protocol = iota
	NegotiationProtocol
	TransferProcessProtocol
)

// ErrorMessage returns the error message protocol p answers err with
// (CatalogError, ContractNegotiationError, TransferError), naming the process by
// both pids where p has them (empty when unknown: the schemas require the
// properties, not values).
func ErrorMessage(p Protocol, providerPID, consumerPID string, err error) Message {
	code, reason := CodeOf(err), reasons(err)
	switch p {
	case NegotiationProtocol:
		return &ContractNegotiationError{ProviderPID: providerPID, ConsumerPID: consumerPID, Code: code, Reason: reason}
	case TransferProcessProtocol:
		return &TransferError{ProviderPID: providerPID, ConsumerPID: consumerPID, Code: code, Reason: reason}
	}
	return &CatalogError{Code: code, Reason: reason}
}

// WriteError answers a protocol request that failed: the status StatusOf gives
// and the protocol's error message as the body. It returns what WriteMessage
// returns.
func WriteError(w http.ResponseWriter, p Protocol, providerPID, consumerPID string, err error) error {
	return WriteMessage(w, StatusOf(err), ErrorMessage(p, providerPID, consumerPID, err))
}

// WriteMessage answers with status and m, encoded and validated by Encode, and
// returns the encoding error, if any. A message that fails its own schema is
// dataport's fault: it is not sent, and the client gets a 500 without a body
// (the bindings allow an error without one); the caller logs the error.
func WriteMessage(w http.ResponseWriter, status int, m Message) error {
	body, err := Encode(m)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// ReadMessage reads a request's body, at most MaxMessageBytes, into m with
// Decode. The error is one WriteError answers: KindInvalid naming the fields,
// KindTooLarge for a body over the limit.
func ReadMessage(r *http.Request, m Message) error {
	const op = "dsp.ReadMessage"
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxMessageBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return dataport.Errorf(op, dataport.KindTooLarge, "a %s is at most %d bytes", m.MessageKind(), MaxMessageBytes)
		}
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "the body could not be read", Err: err}
	}
	return dataport.Wrap(op, Decode(raw, m))
}

// samePIDs checks that a message on an existing process names it: its providerPid
// and consumerPid those of the process at the address it was posted to. A message
// naming another process is invalid (400), whatever the state.
func samePIDs(op, provider, consumer, wantProvider, wantConsumer string) error {
	var probs dataport.Problems
	if provider != wantProvider {
		probs.Add("providerPid", "%s, the provider's pid of the process at this address", wantProvider)
	}
	if consumer != wantConsumer {
		probs.Add("consumerPid", "%s, the consumer's pid of the process at this address", wantConsumer)
	}
	return probs.Err(op)
}
