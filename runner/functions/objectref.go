package functions

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// objectReference is Kanister's reference to an object in function
// arguments: the version in apiVersion and the group apart, with the
// resource (plural, lower case) rather than the kind.
type objectReference struct {
	APIVersion string `json:"apiVersion"`
	Group      string `json:"group"`
	Resource   string `json:"resource"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

// gvr returns the referenced resource. apiVersion may also be written
// group/version, as in manifests, when group is empty or the same.
func (r objectReference) gvr() (schema.GroupVersionResource, error) {
	group, version := r.Group, r.APIVersion
	if g, v, ok := strings.Cut(r.APIVersion, "/"); ok {
		if group != "" && group != g {
			return schema.GroupVersionResource{}, fmt.Errorf("apiVersion %q and group %q disagree", r.APIVersion, r.Group)
		}
		group, version = g, v
	}
	return schema.GroupVersionResource{Group: group, Version: version, Resource: r.Resource}, nil
}

// check returns an error naming the fields a reference lacks.
func (r objectReference) check() error {
	var missing []string
	if r.APIVersion == "" {
		missing = append(missing, "apiVersion")
	}
	if r.Resource == "" {
		missing = append(missing, "resource")
	}
	if r.Name == "" {
		missing = append(missing, "name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("objectReference lacks %s", strings.Join(missing, ", "))
	}
	_, err := r.gvr()
	return err
}

func (r objectReference) String() string {
	gvr, _ := r.gvr()
	name := r.Name
	if r.Namespace != "" {
		name = r.Namespace + "/" + name
	}
	return fmt.Sprintf("%s %s", gvr.GroupResource(), name)
}
