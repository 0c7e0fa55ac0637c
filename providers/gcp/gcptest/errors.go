package gcptest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error as the compute API reports it. The JSON it writes is
// what googleapi.CheckResponse parses, so the Go client's *googleapi.Error
// and *apierror.APIError carry the code and the reason.
type apiError struct {
	code    int
	reason  string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errorf(code int, reason, format string, args ...any) *apiError {
	return &apiError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

func notFound(path string) *apiError {
	return errorf(http.StatusNotFound, "notFound", "The resource '%s' was not found", path)
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}

func writeError(w http.ResponseWriter, e *apiError) {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.code,
		"message": e.message,
		"errors":  []item{{Message: e.message, Domain: "global", Reason: e.reason}},
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(body)
}
