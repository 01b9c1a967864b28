package dataport

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. The API maps kinds to
// HTTP statuses (RFC 9457 problem+json); the CLI prints the message and exits non-zero.
type Kind uint8

const (
	KindInternal     Kind = iota // a fault of the exchange: logged, never explained to the client
	KindInvalid                  // the request is malformed or breaks a rule; Fields says where
	KindNotFound                 // no such record, or not one the caller may see
	KindConflict                 // the request clashes with the current state (duplicate, wrong state)
	KindUnauthorized             // no valid credentials
	KindForbidden                // valid credentials, but not allowed (wrong role, suspended)
	KindUnavailable              // a dependency is down; retry later
	KindTooLarge                 // the content is larger than the limit for its kind
)

var kindNames = [...]string{
	KindInternal: "internal", KindInvalid: "invalid", KindNotFound: "not found",
	KindConflict: "conflict", KindUnauthorized: "unauthorized", KindForbidden: "forbidden",
	KindUnavailable: "unavailable", KindTooLarge: "too large",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// FieldProblem names one input field that is wrong and why. Field is the JSON name
// of the field as the client sent it, dotted for nested fields ("contact.email").
type FieldProblem struct {
	Field   string
	Message string
}

// Error is the one error type of the exchange. Op names the operation that failed
// ("registry.CreateParticipant"), so wrapped chains read like a stack trace; Message
// is safe to show the client; Err is the cause and is never shown for internal errors.
type Error struct {
	Op      string
	Kind    Kind
	Message string
	Fields  []FieldProblem
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(e.Kind.String())
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of kind with a client-safe message.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error naming the fields at fault.
func Invalid(op string, problems ...FieldProblem) error {
	return &Error{Op: op, Kind: KindInvalid, Message: "invalid input", Fields: problems}
}

// Internal wraps a cause the client must not see.
func Internal(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: KindInternal, Message: "internal error", Err: err}
}

// Wrap adds op to err, keeping its kind, message and fields when it already is an
// *Error and making it internal otherwise.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Op: op, Kind: e.Kind, Message: e.Message, Fields: e.Fields, Err: err}
	}
	return Internal(op, err)
}

// KindOf returns the kind of the outermost *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// MessageOf returns the client-safe message of err: its *Error's message, or a
// generic one for internal errors so that no detail leaks.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal && e.Message != "" {
		return e.Message
	}
	return "internal error"
}

// FieldsOf returns the field problems carried by err, if any.
func FieldsOf(err error) []FieldProblem {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Problems collects field problems while a value is validated.
type Problems []FieldProblem

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was recorded, or a KindInvalid error for op.
func (p Problems) Err(op string) error {
	if len(p) == 0 {
		return nil
	}
	return Invalid(op, p...)
}
