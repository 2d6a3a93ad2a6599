// Files people share: uploaded with `POST /files` on the page's server
// (gRPC-Web cannot stream a request), with progress, and shown by size.

import prettyBytes from "pretty-bytes";

import type { SharedFile } from "./state";

/** The server's answer to an upload. */
interface Uploaded {
  id: string;
  name: string;
  mime_type: string;
  size: number;
  width: number;
  height: number;
  url: string;
  thumbnail_url: string;
}

/** `bytes` as people read a size: `512 B`, `12.3 kB`. */
export function sizeOf(bytes: number): string {
  return prettyBytes(bytes, { maximumFractionDigits: 1 });
}

/** Whether `file` is shown as a picture (the server re-encodes the image
 * types it shows, and gives those a thumbnail). */
export function isImage(file: SharedFile): boolean {
  return file.width > 0 && file.thumbnailUrl !== "";
}

/** Whether a file's link has expired (or will within a minute): its
 * `until` is in seconds since the epoch. */
export function isStale(link: string, now = Date.now()): boolean {
  const until = new URL(link, "http://page").searchParams.get("until");
  return until !== null && Number(until) * 1000 < now + 60_000;
}

/** Uploads `file` as `name` to `url` with session `token`, telling
 * `onProgress` how much has gone (0 to 1); fails with the server's
 * words. */
export function uploadFile(
  url: URL,
  token: string,
  { file, name }: { file: Blob; name: string },
  onProgress: (done: number) => void,
): Promise<SharedFile> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.setRequestHeader("X-File-Name", encodeURIComponent(name));
    request.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    request.onload = () => {
      if (request.status !== 201) {
        const said = request.responseText.trim();
        reject(new Error(said || `the server answered ${request.status}`));
        return;
      }
      const body = JSON.parse(request.responseText) as Uploaded;
      resolve({
        id: body.id,
        name: body.name,
        mimeType: body.mime_type,
        size: body.size,
        width: body.width,
        height: body.height,
        url: body.url,
        thumbnailUrl: body.thumbnail_url,
      });
    };
    request.onerror = () => reject(new Error("cannot reach the server"));
    request.send(file);
  });
}
