package registry

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/registry/storage"
)

// apiError is one error in the distribution spec's error envelope.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// The spec's error codes, with the HTTP status each is answered with.
func errBlobUnknown(msg string) apiError {
	return apiError{http.StatusNotFound, "BLOB_UNKNOWN", msg, nil}
}
func errUploadInvalid(msg string) apiError {
	return apiError{http.StatusBadRequest, "BLOB_UPLOAD_INVALID", msg, nil}
}
func errUploadUnknown(msg string) apiError {
	return apiError{http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", msg, nil}
}
func errDigestInvalid(msg string) apiError {
	return apiError{http.StatusBadRequest, "DIGEST_INVALID", msg, nil}
}
func errManifestBlobUnknown(msg string) apiError {
	return apiError{http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", msg, nil}
}
func errManifestInvalid(msg string) apiError {
	return apiError{http.StatusBadRequest, "MANIFEST_INVALID", msg, nil}
}
func errManifestUnknown(msg string) apiError {
	return apiError{http.StatusNotFound, "MANIFEST_UNKNOWN", msg, nil}
}
func errNameInvalid(msg string) apiError {
	return apiError{http.StatusBadRequest, "NAME_INVALID", msg, nil}
}
func errNameUnknown(msg string) apiError {
	return apiError{http.StatusNotFound, "NAME_UNKNOWN", msg, nil}
}
func errSizeInvalid(msg string) apiError {
	return apiError{http.StatusBadRequest, "SIZE_INVALID", msg, nil}
}
func errUnauthorized(msg string) apiError {
	return apiError{http.StatusUnauthorized, "UNAUTHORIZED", msg, nil}
}
func errUnsupported(msg string) apiError {
	return apiError{http.StatusMethodNotAllowed, "UNSUPPORTED", msg, nil}
}
func errPagination(msg string) apiError {
	return apiError{http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", msg, nil}
}
func errTooLarge(msg string) apiError {
	return apiError{http.StatusRequestEntityTooLarge, "MANIFEST_INVALID", msg, nil}
}
func errRangeInvalid(msg string) apiError {
	return apiError{http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", msg, nil}
}
func errNotFound(msg string) apiError { return apiError{http.StatusNotFound, "NOT_FOUND", msg, nil} }

// writeError answers with the spec's JSON error envelope.
func writeError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{e}})
}

// storeError maps a storage error onto the spec's codes.
func storeError(err error) apiError {
	switch {
	case errors.Is(err, storage.ErrBlobUnknown):
		return errBlobUnknown(err.Error())
	case errors.Is(err, storage.ErrUploadUnknown):
		return errUploadUnknown(err.Error())
	case errors.Is(err, storage.ErrRangeInvalid):
		return errRangeInvalid(err.Error())
	case errors.Is(err, storage.ErrDigestMismatch):
		return errDigestInvalid(err.Error())
	case errors.Is(err, storage.ErrManifestBlobUnknown):
		return errManifestBlobUnknown(err.Error())
	case errors.Is(err, storage.ErrManifestInvalid):
		return errManifestInvalid(err.Error())
	case errors.Is(err, storage.ErrManifestUnknown):
		return errManifestUnknown(err.Error())
	case errors.Is(err, storage.ErrNameUnknown):
		return errNameUnknown(err.Error())
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return errUploadInvalid(err.Error())
	}
	return apiError{http.StatusInternalServerError, "UNKNOWN", "internal error", nil}
}
