//! `chat-bench changes`: what a change to a message costs next to a send
//! (an edit, a reaction put and taken back, a deletion), one call at a
//! time, with members of the room reading every event: p50 and p99, and
//! the server's CPU per call.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use chat_proto::chat::v1::{
    DeleteMessageRequest, EditMessageRequest, JoinRoomRequest, ReactRequest, SendMessageRequest,
    SubscribeRequest,
};
use clap::Args;

use crate::fanout::{authorized, connect, native_login};
use crate::login::time;
use crate::target::{Target, TargetArgs};

const ROOM: &str = "general";

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Calls of each kind, one after another.
    #[arg(long, short = 'n', default_value_t = 2000)]
    count: usize,
    /// Members of the room reading every message and change.
    #[arg(long, default_value_t = 10)]
    readers: usize,
    #[command(flatten)]
    target: TargetArgs,
}

pub async fn run(args: ChangesArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, &["--max-sends-per-second", "1000000"]).await?;
    let channel = connect(target.native).await?;
    let tag = std::process::id();
    for n in 0..args.readers {
        read_everything(channel.clone(), format!("reader{tag}-{n}")).await?;
    }
    let (client, token) = native_login(channel, &format!("writer{tag}")).await?;
    client
        .clone()
        .join_room(authorized(JoinRoomRequest { room: ROOM.into() }, &token))
        .await?;
    println!(
        "{} calls of each kind one after another, {} members reading",
        args.count, args.readers
    );
    let call = Arc::new((client, token));
    let seqs = Arc::new(Mutex::new(Vec::with_capacity(args.count)));

    let sent = time(&target, args.count, 1, {
        let (call, seqs) = (Arc::clone(&call), Arc::clone(&seqs));
        move |i| {
            let (mut client, token, seqs) = (call.0.clone(), call.1.clone(), Arc::clone(&seqs));
            async move {
                let request = SendMessageRequest {
                    room: ROOM.into(),
                    text: format!("message {i}"),
                    ..Default::default()
                };
                let reply = client.send_message(authorized(request, &token)).await?;
                let message = reply.into_inner().message.context("no message")?;
                seqs.lock().expect("not poisoned").push(message.seq);
                Ok(())
            }
        }
    })
    .await?;
    sent.print("SendMessage");
    let seqs: Arc<Vec<u64>> = Arc::new(seqs.lock().expect("not poisoned").clone());

    let edited = time(&target, args.count, 1, {
        let (call, seqs) = (Arc::clone(&call), Arc::clone(&seqs));
        move |i| {
            let (mut client, token) = (call.0.clone(), call.1.clone());
            let request = EditMessageRequest {
                room: ROOM.into(),
                seq: seqs[i % seqs.len()],
                text: format!("message {i}, edited"),
            };
            async move {
                client.edit_message(authorized(request, &token)).await?;
                Ok(())
            }
        }
    })
    .await?;
    edited.print("EditMessage");

    let reacted = time(&target, args.count, 1, {
        let (call, seqs) = (Arc::clone(&call), Arc::clone(&seqs));
        move |i| {
            let (mut client, token) = (call.0.clone(), call.1.clone());
            // Each message gets the emoji, then loses it.
            let request = ReactRequest {
                room: ROOM.into(),
                seq: seqs[(i / 2) % seqs.len()],
                emoji: "👍".into(),
                remove: i % 2 == 1,
            };
            async move {
                client.react(authorized(request, &token)).await?;
                Ok(())
            }
        }
    })
    .await?;
    reacted.print("React (put, take back)");

    let deleted = time(&target, args.count, 1, {
        let (call, seqs) = (Arc::clone(&call), Arc::clone(&seqs));
        move |i| {
            let (mut client, token) = (call.0.clone(), call.1.clone());
            let request = DeleteMessageRequest {
                room: ROOM.into(),
                seq: seqs[i % seqs.len()],
            };
            async move {
                client.delete_message(authorized(request, &token)).await?;
                Ok(())
            }
        }
    })
    .await?;
    deleted.print("DeleteMessage");
    Ok(())
}

/// A member of the room whose event stream is read to its end.
async fn read_everything(channel: tonic::transport::Channel, name: String) -> anyhow::Result<()> {
    let (mut client, token) = native_login(channel, &name).await?;
    client
        .join_room(authorized(JoinRoomRequest { room: ROOM.into() }, &token))
        .await?;
    let request = authorized(SubscribeRequest::default(), &token);
    let mut events = client.subscribe(request).await?.into_inner();
    tokio::spawn(async move { while let Ok(Some(_)) = events.message().await {} });
    Ok(())
}
