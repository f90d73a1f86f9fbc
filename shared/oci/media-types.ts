// Media types we recognise (OCI image-spec 1.1, Docker schema 2, Helm, cosign/ORAS conventions).
export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  helmConfig: "application/vnd.cncf.helm.config.v1+json",
  helmChart: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
  helmProv: "application/vnd.cncf.helm.chart.provenance.v1.prov",
  unknownConfig: "application/vnd.unknown.config.v1+json",
} as const;

export const manifestMediaTypes: readonly string[] = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerManifestList];
export const indexMediaTypes: readonly string[] = [MT.ociIndex, MT.dockerManifestList];

/** The Accept header for manifest requests: everything we can copy. */
export const manifestAccept = manifestMediaTypes.join(", ");

export function isManifest(mediaType: string | undefined): boolean {
  return !!mediaType && manifestMediaTypes.includes(mediaType);
}
export function isIndex(mediaType: string | undefined): boolean {
  return !!mediaType && indexMediaTypes.includes(mediaType);
}
