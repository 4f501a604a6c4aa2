// Blueprint script: deploys a ComplianceGate whose signer set is the running oracle nodes'.
//
//   TOLLGATE_NODES=https://oracle-a.example,https://oracle-b.example,https://oracle-c.example \
//   TOLLGATE_THRESHOLD=2 TOLLGATE_MAX_RISK=50 \
//   npx blueprint run deployComplianceGate --testnet --tonconnect
//
// The admin is the deploying wallet (hand it to a multisig with gate_propose_admin afterwards).
// The policy screens the destination, forbids sanctions, terrorist financing, drainers, scams,
// phishing and stolen funds, and allows 120 s of clock skew unless the environment says otherwise.

import { NetworkProvider, compile } from '@ton/blueprint';
import { Screen } from '../wrappers/ComplianceGate';
import { Category } from '../wrappers/Constants';
import { deployGate, gateState, signerSetFromNodes } from './gateDeploy';

export async function run(provider: NetworkProvider) {
    const network = provider.network();
    if (network !== 'mainnet' && network !== 'testnet') throw new Error(`deploy to mainnet or testnet, not ${network}`);
    const urls = (process.env.TOLLGATE_NODES ?? '').split(',').filter(Boolean);
    if (urls.length === 0) throw new Error('set TOLLGATE_NODES to the oracle nodes\' URLs, comma-separated');
    const threshold = process.env.TOLLGATE_THRESHOLD ? Number(process.env.TOLLGATE_THRESHOLD) : undefined;
    const signers = await signerSetFromNodes(urls, network, threshold);
    console.log(`signer set: epoch ${signers.epoch}, ${signers.threshold} of ${signers.publicKeys.length}`);
    signers.publicKeys.forEach((key, index) => console.log(`  ${index}: ${key.toString('hex')} (${urls[index]})`));

    const admin = provider.sender().address;
    if (!admin) throw new Error('the deploying wallet has no address');
    const gate = await deployGate({
        code: await compile('ComplianceGate'),
        signers,
        policy: {
            screen: Screen.destination,
            maxRisk: Number(process.env.TOLLGATE_MAX_RISK ?? 50),
            forbidden: Number(process.env.TOLLGATE_FORBIDDEN ?? (Category.sanctions | Category.terroristFinancing | Category.drainer
                | Category.scam | Category.phishing | Category.stolenFunds)),
            maxSkew: Number(process.env.TOLLGATE_MAX_SKEW ?? 120),
        },
        admin,
        open: (contract) => provider.open(contract),
        sender: provider.sender(),
    });
    await provider.waitForDeploy(gate.address);
    console.log(`ComplianceGate: ${gate.address.toString({ bounceable: true, testOnly: network === 'testnet' })}`);
    console.log(JSON.stringify(await gateState(gate), null, 2));
}
