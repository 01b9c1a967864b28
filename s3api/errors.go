package s3api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/dataport/dataport"
)

// Error is an S3 error response: the HTTP status and the <Code> and <Message> of the
// XML body (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
// Backends return it for the errors S3 names (NoSuchBucket, NoSuchKey, AccessDenied);
// the endpoint adds <Resource> and <RequestId>.
type Error struct {
	Status  int
	Code    string
	Message string

	// region is the region S3 names in <Region> when a signature was scoped to the
	// wrong one; clients (minio-go, s3cmd) read it to retry in the right region.
	region string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNoSuchKey) holds for any NoSuchKey error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The errors a backend commonly returns. Treat them as constants.
var (
	ErrNoSuchKey          = &Error{Status: http.StatusNotFound, Code: "NoSuchKey", Message: "The specified key does not exist."}
	ErrAccessDenied       = &Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
	ErrServiceUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "The service is temporarily unavailable. Please try again."}
	ErrInternalError      = &Error{Status: http.StatusInternalServerError, Code: "InternalError", Message: "We encountered an internal error. Please try again."}
)

// ErrNoSuchBucket is the error for a bucket that does not exist (or that the
// caller may not know of).
func ErrNoSuchBucket(bucket string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist: " + bucket}
}

// ErrInvalidArgument is the error for a request parameter S3 would reject.
func ErrInvalidArgument(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: fmt.Sprintf(format, args...)}
}

// errorf builds an error the endpoint itself raises.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errInvalidRange() *Error {
	return errorf(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
}

func errPreconditionFailed() *Error {
	return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
}

func errMethodNotAllowed() *Error {
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource; this endpoint is read-only.")
}

func errNotImplemented(what string) *Error {
	return errorf(http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented: %s", what)
}

// toError maps a backend or key-store error to the S3 error the client sees.
// *Error values pass through; dataport errors map by kind as the Backend
// documentation says, except that "not found" on a request that names no key
// is NoSuchBucket (a NoSuchKey for a listing would mislead the client).
// internal reports whether the cause is a fault of ours, worth logging.
func toError(err error, objectLevel bool) (e *Error, internal bool) {
	if errors.As(err, &e) {
		if e.Status < 400 || e.Status > 599 || e.Code == "" {
			// Not a usable S3 error: a fault of the backend.
			return ErrInternalError, true
		}
		return e, e.Status >= 500
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrServiceUnavailable, false
	}
	switch dataport.KindOf(err) {
	case dataport.KindNotFound:
		if objectLevel {
			return ErrNoSuchKey, false
		}
		return &Error{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}, false
	case dataport.KindForbidden, dataport.KindUnauthorized:
		return ErrAccessDenied, false
	case dataport.KindUnavailable:
		return ErrServiceUnavailable, true
	default:
		return ErrInternalError, true
	}
}
