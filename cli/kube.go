package cli

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// KubeFlags are kubectl's flags for reaching a cluster.
type KubeFlags struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// AddFlags registers --kubeconfig, --context and -n/--namespace.
func (k *KubeFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&k.Context, "context", "", "the kubeconfig context to use (default: its current context)")
	fs.StringVarP(&k.Namespace, "namespace", "n", "", `namespace of the ActionSets, Blueprints and Profiles (default "`+DefaultNamespace+`")`)
}

// Clients are what commands use to talk to the cluster: a
// controller-runtime client for Baton's kinds and the core ones, and a
// clientset for what it cannot do (pod logs, events by field).
type Clients struct {
	Client client.Client
	Kube   kubernetes.Interface
}

// Scheme knows Baton's kinds and Kubernetes' built-in ones.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := batonv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Clients loads the kubeconfig as kubectl does ($KUBECONFIG, else
// ~/.kube/config; --kubeconfig and --context win) and builds the clients.
func (k KubeFlags) Clients() (*Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.UserAgent = "batonctl"
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Clients{Client: c, Kube: kube}, nil
}
