package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// maxPolicySize caps a policy file: a real one is a few kilobytes, and a
// cap keeps a wrong path (a capture, a log) from being read whole.
const maxPolicySize = 1 << 20

// readPolicy reads a policy document, at most maxPolicySize bytes.
func readPolicy(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPolicySize+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) > maxPolicySize:
		return nil, fmt.Errorf("larger than %d KiB: a policy is a small JSON object", maxPolicySize>>10)
	}
	return b, nil
}

// checkPolicyJSON rejects what encoding/json would let through silently:
// a key given twice in one object (the last would win) and null (read as
// "not given", so a policy that means to set a value would not). Each is
// named by its path in the document.
func checkPolicyJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case nil:
			return fmt.Errorf("%s: null is not a value here (leave the key out for the default)", where(path))
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("%s: key %q given twice", where(path), key)
				}
				seen[key] = true
				if err := walk(join(path, key)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(path + "[" + strconv.Itoa(i) + "]"); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	err := walk("")
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // not JSON: the decoder that follows says where
		}
	}
	return err
}

func where(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonError says where a JSON decoding error is, in one line, in words
// (a whole number, a list), not Go's type names.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s: want %s, got %s", field, jsonKind(typ.Type), jsonValueKind(typ.Value))
	case errors.Is(err, io.EOF):
		return "empty file (want a JSON object)"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names what a policy field holds, as JSON says it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	}
	return "an object"
}

// jsonValueKind names the JSON value found: encoding/json says "number",
// "number 1.5", "string", "array", "object" or "bool".
func jsonValueKind(v string) string {
	switch {
	case strings.HasPrefix(v, "number"):
		if n := strings.TrimPrefix(v, "number "); n != v {
			return "the number " + n
		}
		return "a number"
	case v == "array":
		return "a list"
	case v == "bool":
		return "true or false"
	case v == "object":
		return "an object"
	}
	return "a " + v
}
