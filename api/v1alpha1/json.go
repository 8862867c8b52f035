package v1alpha1

import (
	"encoding/json"
	"fmt"
)

// JSONMap is a JSON object the API leaves unconstrained: a phase's args, an
// ActionSet's podOverride, a phase's output. Its values have the shapes
// encoding/json decodes into an interface{}: map[string]any, []any, string,
// bool, nil, and numbers as float64, or int64 when decoded by the
// Kubernetes serializers (which keep integers whole).
//
// Fields of this type are marked schemaless with unknown fields preserved, so
// the API server stores whatever object a manifest holds.
//
// +kubebuilder:object:generate=false
type JSONMap map[string]any

// DeepCopy returns a copy of m that shares no maps or slices with it.
func (in JSONMap) DeepCopy() JSONMap {
	if in == nil {
		return nil
	}
	out := make(JSONMap, len(in))
	for k, v := range in {
		out[k] = deepCopyJSONValue(v)
	}
	return out
}

// DeepCopyInto writes a deep copy of in into out.
func (in JSONMap) DeepCopyInto(out *JSONMap) {
	*out = in.DeepCopy()
}

// deepCopyJSONValue copies one value of a JSONMap. Values built in Go rather
// than decoded (a []string, a map[string]string, a struct) are copied
// through a JSON round trip, which yields the same generic shapes a decoder
// would have produced; a value JSON cannot encode is a programming error and
// panics, as an unencodable value would fail the API call anyway.
func deepCopyJSONValue(v any) any {
	switch v := v.(type) {
	case nil, string, bool, json.Number,
		float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return v
	case map[string]any:
		if v == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopyJSONValue(e)
		}
		return out
	case JSONMap:
		return v.DeepCopy()
	case []any:
		if v == nil {
			return []any(nil)
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyJSONValue(e)
		}
		return out
	default:
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("v1alpha1.JSONMap: cannot copy a %T: %v", v, err))
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			panic(fmt.Sprintf("v1alpha1.JSONMap: cannot copy a %T: %v", v, err))
		}
		return out
	}
}
