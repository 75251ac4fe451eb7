// Learning from approved labels: start a training (a job; the model it registers is named by the job's
// result.trained_model once it succeeds) and read an image's uncertainty map.
import { json, request } from "./client";
import type { TrainInputRequest, TrainResponse } from "./schema";

export type { TrainResponse };

/** The record a trained model carries (`TrainedModel.training`; empty for uploaded models). */
export interface TrainingRecord {
  learner?: string;
  split?: "stored" | "seeded";
  train_image_ids?: number[];
  val_image_ids?: number[];
  val?: { images: number; miou: number | null; pixel_accuracy: number | null } | null;
  seconds?: number;
}

/** What a training job's result holds once it succeeded. */
export interface TrainingResult {
  trained_model?: number;
  name?: string;
  train_images?: number;
  val_images?: number;
  val?: TrainingRecord["val"];
  prelabel_job?: number | null;
}

/** Managers: train a pixel classifier on the approved labels (202: the job; one per project at a time). */
export const trainModel = (projectId: number, body: TrainInputRequest = { learner: "pixel_classifier" }) =>
  json<TrainResponse>("POST", `/api/projects/${projectId}/models/train/`, body);

/** The image's uncertainty map (8-bit PNG, 255 = a coin toss); 404 until a trained model scored the image. */
export const uncertaintyMapUrl = (imageId: number) => `/api/images/${imageId}/uncertainty/`;

/** The image's uncertainty map, decoded (grey: r = g = b = round(255 u)); 404 until a trained model scored it. */
export async function getUncertaintyMap(imageId: number): Promise<ImageBitmap> {
  const response = await request("GET", uncertaintyMapUrl(imageId), undefined, "*/*");
  return createImageBitmap(await response.blob());
}
