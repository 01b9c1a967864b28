package dsp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/dataport/dataport"
)

// Client sends dataport's protocol messages to another connector: a consumer's
// requests to a provider, and a provider's messages to a consumer's callback
// address.
type Client struct {
	HTTP *http.Client
	// Credentials sets the Authorization of each request (nil: none).
	Credentials Credentials
}

// Post encodes m (which validates it: a message that fails its schema is not sent)
// and posts it to target; any 2xx is the counter-party's acknowledgement, whatever
// its body. A refusal is an error (Send says which).
func (c *Client) Post(ctx context.Context, target string, m Message) error {
	return c.Send(ctx, http.MethodPost, target, m, nil)
}

// Send makes one protocol request: m, encoded and validated, as the body (nil: no
// body, as a GET has), to target with method; a 2xx answer's body is decoded into
// out (validated against out's schema) unless out is nil. A 4xx or 5xx answer is an
// error naming the status and, when its body is one of the protocol's error
// messages, its code and reasons: KindNotFound for 404 (the binding's answer for an
// unknown process and for one the caller may not see), KindConflict for a 400 whose
// code is INVALID_STATE_TRANSITION, KindInvalid for another 400, KindUnauthorized
// for 401, and KindUnavailable for the rest and for a connector that cannot be
// reached.
func (c *Client) Send(ctx context.Context, method, target string, m Message, out Message) error {
	const op = "dsp.Client.Send"
	var body io.Reader
	if m != nil {
		raw, err := Encode(m)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return dataport.Invalid(op, dataport.FieldProblem{Field: "address", Message: err.Error()})
	}
	if m != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", contentType)
	if c.Credentials != nil {
		if err := c.Credentials.Authorize(req); err != nil {
			return dataport.Wrap(op, err)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the counter-party could not be reached", Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxMessageBytes))
	if err != nil {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the counter-party's answer was cut short", Err: err}
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := Decode(raw, out); err != nil {
			return &dataport.Error{Op: op, Kind: dataport.KindUnavailable,
				Message: fmt.Sprintf("%s answered %d with a body that is not a valid %s", target, resp.StatusCode, out.MessageKind()), Err: err}
		}
		return nil
	}
	code, detail := errorBody(raw)
	kind := dataport.KindUnavailable
	switch {
	case resp.StatusCode == http.StatusNotFound:
		kind = dataport.KindNotFound
	case resp.StatusCode == http.StatusUnauthorized:
		kind = dataport.KindUnauthorized
	case resp.StatusCode == http.StatusBadRequest && code == CodeInvalidState:
		kind = dataport.KindConflict
	case resp.StatusCode == http.StatusBadRequest:
		kind = dataport.KindInvalid
	}
	return dataport.Errorf(op, kind, "%s answered %d%s", target, resp.StatusCode, detail)
}

// errorBody reads a protocol error message's code and reasons, whichever protocol's.
func errorBody(raw []byte) (code, detail string) {
	var n ContractNegotiationError
	if Decode(raw, &n) == nil {
		return n.Code, fmt.Sprintf(": %s %v", n.Code, n.Reason)
	}
	var t TransferError
	if Decode(raw, &t) == nil {
		return t.Code, fmt.Sprintf(": %s %v", t.Code, t.Reason)
	}
	var c CatalogError
	if Decode(raw, &c) == nil {
		return c.Code, fmt.Sprintf(": %s %v", c.Code, c.Reason)
	}
	return "", ""
}

// PeerCredentials finds the credentials dataport presents to the connector of a
// registered participant: the token that connector issued to this exchange, for a
// callback to a consumer or a request to a provider. A participant with none
// registered gets nil (the request goes without an Authorization header).
type PeerCredentials interface {
	CredentialsFor(ctx context.Context, participantID string) (Credentials, error)
}

// With returns a copy of c that presents creds.
func (c *Client) With(creds Credentials) *Client {
	out := *c
	out.Credentials = creds
	return &out
}
