// The Kubernetes RBAC that `sync|copy --in-cluster` needs: every API call in-cluster.ts makes, and nothing more
// (test/mirror/in-cluster.test.ts runs as a ServiceAccount bound to exactly these objects). `--print-rbac` prints
// them; `--dry-run` lists them.
import type { KubeObject } from "../../../../shared/kube/index.ts";

export const RBAC_NAME = "kubectl-mirror";
/** the cluster-scoped part: the nodes' architecture picks the runner binary (without it: the API server's) */
export const NODE_READER = "kubectl-mirror-node-reader";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** namespace rules, with what each is for */
export const ROLE_RULES: (Rule & { why: string })[] = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "patch", "delete"], why: "create the Job suspended, follow it, resume it, delete it when done" },
  { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["create"], why: "the plan and the registry credentials, owned by the Job" },
  { apiGroups: [""], resources: ["pods"], verbs: ["list"], why: "find the Job's pods (stuck image pulls, reports)" },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], why: "read each pod's report" },
];
export const CLUSTER_RULES: (Rule & { why: string })[] = [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"], why: "the nodes' CPU architecture (optional: else the API server's platform)" }];

const strip = (rules: (Rule & { why: string })[]): Rule[] => rules.map(({ why: _w, ...r }) => r);

/** ServiceAccount, Role, RoleBinding in `namespace`; ClusterRole + ClusterRoleBinding for reading nodes. */
export function inClusterRbac(namespace: string, serviceAccount = RBAC_NAME): KubeObject[] {
  const labels = { "app.kubernetes.io/name": "kubectl-mirror", "app.kubernetes.io/component": "in-cluster-rbac" };
  const subject = { kind: "ServiceAccount", name: serviceAccount, namespace };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccount, namespace, labels } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: RBAC_NAME, namespace, labels }, rules: strip(ROLE_RULES) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: RBAC_NAME, namespace, labels }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RBAC_NAME }, subjects: [subject] },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: NODE_READER, labels }, rules: strip(CLUSTER_RULES) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: `${NODE_READER}-${namespace}`, labels }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NODE_READER }, subjects: [subject] },
  ];
}

/** One line per rule, for --dry-run's log. */
export function rbacSummary(namespace: string): string[] {
  const fmt = (r: Rule & { why: string }) => `${r.resources.map((x) => (r.apiGroups[0] ? `${x}.${r.apiGroups[0]}` : x)).join(", ")}: ${r.verbs.join(", ")} (${r.why})`;
  return [
    `RBAC the run needs in namespace ${namespace} (--print-rbac prints it as a ServiceAccount, Role and RoleBinding):`,
    ...ROLE_RULES.map((r) => `  ${fmt(r)}`),
    "  and at cluster scope:",
    ...CLUSTER_RULES.map((r) => `  ${fmt(r)}`),
  ];
}
