"""The reference scores the golden fixtures are made of: log P(target + </s> | instruction) under a
transformers T5, one candidate at a time (teacher forcing from decoder_start_token_id 0), summed in
float32 over the target's tokens and </s> (eos id 1), as the service scores a title."""
import torch


def log_likelihoods(model, instruction, targets):
    with torch.no_grad():
        encoded = model.encoder(input_ids=torch.tensor([instruction])).last_hidden_state
        out = []
        for target in targets:
            labels = torch.tensor([target + [1]])
            decoder_input = torch.tensor([[0] + target])
            logits = model(encoder_outputs=(encoded,), decoder_input_ids=decoder_input).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)[0, torch.arange(len(target) + 1), labels[0]]
            out.append(logprobs.sum().item())
        return out
