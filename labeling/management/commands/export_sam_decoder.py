"""Export the configured SAM model's prompt decoder (ONNX) into storage, where the browser and the server
decode endpoint read it. Embedding jobs also do this when the decoder is missing."""

from django.core.management.base import BaseCommand, CommandError

from labeling.services.sam import SamUnavailable, decoder_path, decoders_export, sam_config


class Command(BaseCommand):
    help = "Write sam/<model_key>/decoder-v<format>.onnx (and .quant.onnx) for ANNOTATOR_SAM_CHECKPOINT into storage."

    def add_arguments(self, parser):
        parser.add_argument("--quantize", action="store_true",
                            help="also write the uint8 dynamically quantised decoder")
        parser.add_argument("--force", action="store_true", help="rewrite decoders that already exist")

    def handle(self, *args, **options):
        try:
            config = sam_config()
            written = decoders_export(config=config, quantize=options["quantize"], force=options["force"])
        except SamUnavailable as exc:
            raise CommandError(exc.message) from exc
        for quantized in (False, True) if options["quantize"] else (False,):
            name = decoder_path(model_key=config.model_key, quantized=quantized)
            state = "wrote" if name in written else "exists"
            self.stdout.write(f"{state} {name}")
