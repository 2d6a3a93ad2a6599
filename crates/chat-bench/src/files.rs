//! `chat-bench files`: what sharing files costs. An account uploads files
//! (`POST /files` through the client library, over the calls' own
//! connection) one at a time and several at once, uploads photos (each
//! decoded, turned upright, encoded again and given a thumbnail), and
//! readers fetch a file by its link: p50 and p99, throughput, the
//! server's CPU per call, and its memory at the end.

use std::io::Cursor;
use std::sync::Arc;

use chat_client::{Client, ClientConfig};
use clap::Args;

use crate::login::time;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Files uploaded, and fetches, of each kind.
    #[arg(long, short = 'n', default_value_t = 200)]
    count: usize,
    /// Bytes of each plain file.
    #[arg(long, default_value_t = 1 << 20)]
    bytes: usize,
    /// Uploads and fetches at once, for the throughput runs.
    #[arg(long, short = 'c', default_value_t = 4)]
    concurrency: usize,
    /// Photos uploaded (12 megapixels each).
    #[arg(long, default_value_t = 20)]
    photos: usize,
    /// Keep the files in memory rather than in a data folder (SQLite and
    /// files on disk, the default store).
    #[arg(long)]
    in_memory: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub async fn run(args: FilesArgs) -> anyhow::Result<()> {
    let flags = [
        "--max-sends-per-second",
        "1000000",
        "--file-quota-bytes",
        "1099511627776",
    ];
    let dir = tempfile::tempdir()?;
    let target = match args.in_memory {
        true => Target::start(&args.target, &flags).await?,
        false => Target::stored(&args.target, dir.path(), &flags).await?,
    };
    let config = ClientConfig {
        password: "a benchmark's password".into(),
        register: true,
        ..ClientConfig::new(
            target.native.to_string(),
            format!("files{}", std::process::id()),
        )
    };
    let (client, _events) = Client::connect(config).await?;
    let client = Arc::new(client);
    let mib = args.bytes as f64 / (1 << 20) as f64;
    println!(
        "{} files of {} bytes, {} photos of 4000x3000; {} at once for throughput; kept {}",
        args.count,
        args.bytes,
        args.photos,
        args.concurrency,
        if args.in_memory {
            "in memory"
        } else {
            "on disk"
        }
    );
    let body: Arc<Vec<u8>> = Arc::new((0..args.bytes).map(|n| (n % 251) as u8).collect());
    let upload = |client: Arc<Client>, body: Arc<Vec<u8>>| {
        move |i: usize| {
            let (client, body) = (Arc::clone(&client), Arc::clone(&body));
            async move {
                client
                    .upload(&format!("file{i}.bin"), body.to_vec())
                    .await?;
                Ok(())
            }
        }
    };
    for concurrency in [1, args.concurrency] {
        let timed = time(
            &target,
            args.count,
            concurrency,
            upload(Arc::clone(&client), Arc::clone(&body)),
        )
        .await?;
        timed.print(&format!("upload {mib:.1} MiB, {concurrency} at once"));
        println!("  {:>34} {:.0} MiB/s", "", timed.per_second() * mib);
    }

    let photo = Arc::new(photo(4000, 3000)?);
    let photo_mib = photo.len() as f64 / (1 << 20) as f64;
    let timed = time(
        &target,
        args.photos,
        1,
        upload(Arc::clone(&client), Arc::clone(&photo)),
    )
    .await?;
    timed.print(&format!("upload a {photo_mib:.1} MiB photo (JPEG)"));

    let file = client.upload("shared.bin", body.to_vec()).await?;
    let link = Arc::new(file.url);
    let size = args.bytes;
    for concurrency in [1, args.concurrency] {
        let timed = time(&target, args.count, concurrency, {
            let (client, link) = (Arc::clone(&client), Arc::clone(&link));
            move |_| {
                let (client, link) = (Arc::clone(&client), Arc::clone(&link));
                async move {
                    let bytes = client.fetch(&link).await?;
                    anyhow::ensure!(bytes.len() == size, "{} bytes of {size}", bytes.len());
                    Ok(())
                }
            }
        })
        .await?;
        timed.print(&format!("fetch {mib:.1} MiB, {concurrency} at once"));
        println!("  {:>34} {:.0} MiB/s", "", timed.per_second() * mib);
    }
    if let Some((now, peak)) = target.memory_kib() {
        println!(
            "server memory: {} MiB now, {} MiB at its peak",
            now / 1024,
            peak / 1024
        );
    }
    Ok(())
}

/// A `width` by `height` JPEG with a phone photo's detail: noise, which
/// compresses as little (about 3 bytes a pixel at quality 75).
fn photo(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed & 0x3f) as u8;
        image::Rgb([(x / 16) as u8 ^ noise, (y / 12) as u8 ^ (noise >> 1), noise])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}
