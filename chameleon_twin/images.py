"""The Chameleon-supported images each bare-metal site's Glance holds.

The catalog is Chameleon's supported list (docs `images/supported_images.rst`, 2026): Ubuntu 26.04,
24.04 and 22.04 with their CUDA, ROCm and ARM64 variants, and CentOS 9 Stream; Ubuntu 20.04 is no
longer offered (and the KVM-only CUDA-VGPU image is not at bare-metal sites). Each site holds what
the docs' site matrix (`images/index.rst`) gives it: ROCm only at CHI@TACC (where the AMD GPUs
are), ARM64 at CHI@TACC and CHI@NCAR (the ARM nodes) but not CHI@UC, CUDA not at CHI@NCAR.

Ids, checksums and sizes are derived from the site and image name so they stay the same across
twin runs but differ between sites, as they do on Chameleon (each site has its own Glance).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

IMAGE_NAMESPACE = uuid.UUID("0c6f6a0e-4f4e-4a8b-9a53-6d2b3c7e5f21")
BUILD_REPO = "https://github.com/ChameleonCloud/cc-images"
ADMIN_PROJECT_ID = "570aad8999f7499db99eae22fe9b29bb"  # the operators' project: owns public images and networks


@dataclass(frozen=True)
class ImageSpec:
    name: str
    distro: str  # os_distro
    version: str  # os_version
    codename: str
    variant: str  # build-variant: base | gpu | rocm | arm64
    built: str  # ISO date of the current build
    size_mb: int

    @property
    def architecture(self) -> str:
        return "aarch64" if self.variant == "arm64" else "x86_64"


CATALOG: tuple[ImageSpec, ...] = (
    ImageSpec("CC-Ubuntu22.04", "ubuntu", "22.04", "jammy", "base", "2026-05-19T16:05:42", 3951),
    ImageSpec("CC-Ubuntu24.04", "ubuntu", "24.04", "noble", "base", "2026-05-19T16:48:17", 4212),
    ImageSpec("CC-Ubuntu26.04", "ubuntu", "26.04", "resolute", "base", "2026-05-21T15:37:52", 4389),
    ImageSpec("CC-Ubuntu22.04-CUDA", "ubuntu", "22.04", "jammy", "gpu", "2026-05-19T19:12:30", 14102),
    ImageSpec("CC-Ubuntu24.04-CUDA", "ubuntu", "24.04", "noble", "gpu", "2026-05-19T20:03:11", 15360),
    ImageSpec("CC-Ubuntu24.04-ROCm", "ubuntu", "24.04", "noble", "rocm", "2026-05-20T02:27:48", 18842),
    ImageSpec("CC-Ubuntu22.04-ARM64", "ubuntu", "22.04", "jammy", "arm64", "2026-05-20T04:15:03", 3610),
    ImageSpec("CC-Ubuntu24.04-ARM64", "ubuntu", "24.04", "noble", "arm64", "2026-05-20T04:52:36", 3874),
    ImageSpec("CC-Centos9-Stream", "centos", "9", "stream9", "base", "2026-03-11T13:30:22", 2301),
)


def image_record(site_uid: str, spec: ImageSpec) -> dict:
    """One Glance v2 image with its custom properties as top-level keys, as Glance returns them."""
    image_id = str(uuid.uuid5(IMAGE_NAMESPACE, f"{site_uid}/{spec.name}"))
    digest = hashlib.sha512(f"{site_uid}/{spec.name}/{spec.built}".encode())
    commit = hashlib.sha1(f"cc-images/{spec.name}/{spec.built}".encode()).hexdigest()
    size = spec.size_mb * 1024 * 1024 + int(digest.hexdigest()[:5], 16)
    day = spec.built[:10].replace("-", "")
    created = spec.built + "Z"
    return {
        "id": image_id,
        "name": spec.name,
        "status": "active",
        "visibility": "public",
        "protected": False,
        "os_hidden": False,
        "owner": ADMIN_PROJECT_ID,
        "checksum": hashlib.md5(digest.digest()).hexdigest(),
        "os_hash_algo": "sha512",
        "os_hash_value": digest.hexdigest(),
        "size": size,
        "virtual_size": 21474836480,
        "min_disk": 0,
        "min_ram": 0,
        "disk_format": "qcow2",
        "container_format": "bare",
        "created_at": created,
        "updated_at": created,
        "tags": [],
        "stores": "rbd",
        "self": f"/v2/images/{image_id}",
        "file": f"/v2/images/{image_id}/file",
        "schema": "/v2/schemas/image",
        # Chameleon's own properties (the cc-images build stamps them on every supported image).
        "architecture": spec.architecture,
        "os_distro": spec.distro,
        "os_version": spec.version,
        "os_type": "linux",
        "build-os": f"{spec.distro}-{spec.codename}",
        "build-distro": spec.distro,
        "build-release": spec.codename,
        "build-variant": spec.variant,
        "build-repo": BUILD_REPO,
        "build-repo-commit": commit,
        "build-tag": f"{spec.name.lower()}-{day}",
        "build-timestamp": spec.built,
        "build-os-base-image-revision": day,
    }


# Variants a site does not hold (docs images/index.rst site matrix).
_NOT_AT: dict[str, frozenset[str]] = {
    "uc": frozenset({"rocm", "arm64"}),
    "tacc": frozenset(),
    "ncar": frozenset({"gpu", "rocm"}),
}


def site_catalog(site_uid: str) -> list[ImageSpec]:
    missing = _NOT_AT.get(site_uid, frozenset())
    return [spec for spec in CATALOG if spec.variant not in missing]


def site_images(site_uid: str) -> list[dict]:
    return [image_record(site_uid, spec) for spec in site_catalog(site_uid)]


def image_schema() -> dict:
    """Glance's `image` JSON schema (the standard attributes; custom keys are free-form strings)."""
    def string(description: str, **extra: object) -> dict:
        return {"type": "string", "description": description, **extra}

    properties = {
        "id": string("An identifier for the image", pattern="^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                                                             "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"),
        "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
        "status": string("Status of the image", readOnly=True,
                         enum=["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
                               "pending_delete", "deactivated"]),
        "visibility": string("Scope of image accessibility", enum=["community", "public", "private", "shared"]),
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list"},
        "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32,
                     "description": "md5 hash of image contents."},
        "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64,
                         "description": "Algorithm to calculate the os_hash_value"},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                          "description": "Hexdigest of the image contents using the algorithm in os_hash_algo"},
        "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
        "size": {"type": ["null", "integer"], "readOnly": True, "description": "Size of image file in bytes"},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True,
                         "description": "Virtual size of image in bytes"},
        "container_format": {"type": ["null", "string"], "description": "Format of the container",
                             "enum": [None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]},
        "disk_format": {"type": ["null", "string"], "description": "Format of the disk",
                        "enum": [None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi",
                                 "iso", "ploop"]},
        "created_at": string("Date and time of image registration", readOnly=True),
        "updated_at": string("Date and time of the last image modification", readOnly=True),
        "tags": {"type": "array", "description": "List of strings related to the image",
                 "items": {"type": "string", "maxLength": 255}},
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": string("An image self url", readOnly=True),
        "file": string("An image file url", readOnly=True),
        "stores": string("Store in which image data resides.", readOnly=True),
        "schema": string("An image schema url", readOnly=True),
        "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external "
                                                      "store", "items": {"type": "object"}},
    }
    return {"name": "image", "properties": properties, "additionalProperties": {"type": "string"},
            "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                      {"rel": "describedby", "href": "{schema}"}]}
